"""CliRunner fixtures: the plugin with a fake API client and a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from archive_operator.cli.app import App
from archive_operator.cli.main import cli
from click.testing import CliRunner, Result

from .fake_client import FakeClient
from .objects import all_objects

NOW = datetime(2024, 12, 19, 10, 0, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden"


@dataclass
class Invocation:
    result: Result
    client: FakeClient

    @property
    def code(self) -> int:
        return self.result.exit_code

    @property
    def out(self) -> str:
        return self.result.stdout

    @property
    def err(self) -> str:
        return self.result.stderr


Run = Callable[..., Invocation]


@pytest.fixture
def run_cli() -> Run:
    def run(
        *args: str,
        objects: list[Any] | None = None,
        client: FakeClient | None = None,
        tty: bool = False,
        colour: bool = False,
        input: str | None = None,
    ) -> Invocation:
        fake = client or FakeClient(all_objects() if objects is None else objects)
        app = App(
            client_factory=lambda _app: fake,
            clock=lambda: NOW,
            stdin_is_tty=lambda: tty,
            stdout_is_tty=lambda: tty,
            colour=colour,
        )
        result = CliRunner().invoke(
            cli, list(args), obj=app, input=input, prog_name="kubectl archive", color=colour
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Invocation(result, fake)

    return run


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; UPDATE_GOLDEN=1 writes it"
    assert text == path.read_text(), f"output differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    import os

    update = os.environ.get("UPDATE_GOLDEN") == "1"
    return lambda name, text: check_golden(name, text, update)
