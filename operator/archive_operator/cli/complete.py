"""kubectl's plugin completion protocol (cobra's ``__complete``), answered with click's completer.

kubectl 1.26+ runs ``kubectl_complete-archive ARGS... INCOMPLETE`` and reads one candidate
per line (``value<TAB>help``) and a last line ``:<directive>``.
"""

from __future__ import annotations

import click
from click.shell_completion import ShellComplete

DIRECTIVE_DEFAULT = 0
DIRECTIVE_NO_FILE = 4


def cobra_complete(cli: click.Command, args: list[str]) -> int:
    words, incomplete = (args[:-1], args[-1]) if args else ([], "")
    completer = ShellComplete(cli, {}, "kubectl-archive", "_KUBECTL_ARCHIVE_COMPLETE")
    items = completer.get_completions(words, incomplete)
    files = any(item.type in ("file", "dir") for item in items)
    for item in items:
        if item.type != "plain":
            continue
        help_text = (item.help or "").splitlines()[0] if item.help else ""
        click.echo(f"{item.value}\t{help_text}" if help_text else item.value)
    click.echo(f":{DIRECTIVE_DEFAULT if files else DIRECTIVE_NO_FILE}")
    return 0
