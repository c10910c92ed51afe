"""Entry point of ``kubectl-archive`` (so ``kubectl archive ...`` runs it).

kubectl hands a plugin every argument after its name and its environment (KUBECONFIG
included) but none of its own global flags, so the plugin takes ``-n``, ``--context`` and
``--kubeconfig`` itself. Keep this module cheap to import: see the package docstring.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import App
from .commands.inspect import health, status
from .commands.runs import backfill, history, logs, trigger
from .commands.schedules import create, remove, resume, schedule, suspend, unschedule
from .errors import EXIT_ERROR, CliError

PROG = "kubectl archive"
VERSION = "0.1.0"


class ArchiveGroup(click.Group):
    """Lists commands in a fixed, task-ordered sequence and turns CliErrors into exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        finally:
            app = ctx.find_object(App)
            if app is not None:
                app.close()


@click.group(
    cls=ArchiveGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(VERSION, "--version", prog_name=PROG, message="%(prog)s %(version)s")
def cli() -> None:
    """Manage calendar archive schedules and runs (ArchiveSchedule, ArchiveRun).

    \b
    Typical use:
      kubectl archive create alice --user alice --source URL --destination URL \\
          --credentials alice-calendar --time-zone Europe/London --daily --at 23:59
      kubectl archive trigger alice --start 2024-12-18 --wait
      kubectl archive status
      kubectl archive history alice
      kubectl archive health -A

    Every command takes -n/--namespace, --context and --kubeconfig; list commands take
    -A, -l, -o and --no-headers. Exit codes: see docs/plugin.md.
    """


@click.command()
@click.argument("shell", type=click.Choice(["kubectl", "bash", "zsh", "fish"]), default="kubectl")
def completion(shell: str) -> None:
    """Print a shell completion script.

    kubectl (1.26+) completes a plugin's arguments by running an executable named
    kubectl_complete-archive found on PATH; SHELL "kubectl" (the default) prints one.
    bash, zsh and fish print scripts that complete the kubectl-archive command itself.

    \b
    Examples:
      kubectl archive completion > ~/.local/bin/kubectl_complete-archive
      chmod +x ~/.local/bin/kubectl_complete-archive
      eval "$(kubectl-archive completion bash)"
    """
    if shell == "kubectl":
        click.echo('#!/bin/sh\n# Completion of "kubectl archive" for kubectl 1.26+.\n'
                   'exec kubectl-archive __complete "$@"')  # fmt: skip
        return
    from click.shell_completion import get_completion_class

    completer_class = get_completion_class(shell)
    assert completer_class is not None
    completer = completer_class(cli, {}, "kubectl-archive", "_KUBECTL_ARCHIVE_COMPLETE")
    click.echo(completer.source())


for command in (
    create, schedule, unschedule, trigger, backfill, status, history, logs, health,
    suspend, resume, remove, completion,
):  # fmt: skip
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["__complete"]:
        from .complete import cobra_complete

        sys.exit(cobra_complete(cli, args[1:]))
    try:
        cli.main(args=args, prog_name=PROG, obj=App())
    except KeyboardInterrupt:
        click.echo("\ninterrupted (runs already created go on)", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_ERROR)
