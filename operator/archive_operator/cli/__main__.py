"""``python -m archive_operator.cli``: the same as the ``kubectl-archive`` executable."""

from .main import main

main()
