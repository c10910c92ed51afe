"""The reference in docs/reference/ matches the commands, and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from archive_operator.cli.docgen import ARGUMENTS, reference
from archive_operator.cli.errors import __dict__ as error_names
from archive_operator.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
FIX = "run: python -m archive_operator.cli.docgen docs/reference"


def test_reference_is_up_to_date() -> None:
    pages = reference()
    on_disk = {p.name: p.read_text() for p in REFERENCE.glob("kubectl-archive*.md")}
    assert sorted(on_disk) == sorted(pages), f"pages missing or stale; {FIX}"
    for name, text in pages.items():
        assert on_disk[name] == text, f"docs/reference/{name} is out of date; {FIX}"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_and_parameter_has_help(name: str) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no help"
    assert "Example" in command.help, f"{name} has no examples"
    for param in command.params:
        if isinstance(param, click.Argument):
            assert ARGUMENTS.get(param.name or ""), f"{name}: argument {param.name} is undocumented"
        else:
            assert getattr(param, "help", None), f"{name}: option {param.name} has no help"
    assert (REFERENCE / f"kubectl-archive-{name}.md").exists()


def test_usage_reads_kubectl_archive() -> None:
    for name, command in cli.commands.items():
        ctx = click.Context(
            command, info_name=name, parent=click.Context(cli, info_name="kubectl archive")
        )
        assert command.get_usage(ctx).startswith(f"Usage: kubectl archive {name} ")


def test_exit_codes_are_documented_in_plugin_md() -> None:
    guide = (ROOT / "docs" / "plugin.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| `(EXIT_[A-Z_]+)`", guide, flags=re.MULTILINE))
    codes = {name: value for name, value in error_names.items() if name.startswith("EXIT_")}
    assert {name: int(v) for v, name in table.items()} == codes
