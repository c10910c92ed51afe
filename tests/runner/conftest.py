"""Fixtures shared by the runner's Graph test modules."""

from __future__ import annotations

import pytest

from .graph_helpers import Tls, make_tls


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A test CA and the stand-in's serving certificate for 127.0.0.1."""
    return make_tls(tmp_path_factory.mktemp("graph-tls"))
