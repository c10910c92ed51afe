"""Per-invocation state shared by the commands: kube options, the client, clock and terminal.

Tests build an :class:`App` with a fake client factory and a fixed clock and pass it as the
click ``obj``; the real entry point builds the default one, whose clock is the cluster's: the
API server's time learned from the ``Date`` header of the client's answers (cluster_clock.py),
so ages and "in 5h" agree with the objects' timestamps even when the local clock does not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from ..cluster_clock import ClusterClock

if TYPE_CHECKING:
    from .client import Client

# The cluster's time as this process has learned it: the real client reports every answer's
# Date header here. Before any answer it is the local clock; commands read the clock after
# they have read the objects they show.
CLUSTER_CLOCK = ClusterClock()


def _real_client(app: App) -> Client:
    from .client import Client
    from .kubeconfig import load_target

    return Client(load_target(app.kubeconfig, app.context, app.namespace), clock=CLUSTER_CLOCK)


def _now() -> datetime:
    return CLUSTER_CLOCK.now()


def _colour_default() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@dataclass
class App:
    client_factory: Callable[[App], Any] = _real_client
    clock: Callable[[], datetime] = _now
    stdin_is_tty: Callable[[], bool] = field(default=lambda: sys.stdin.isatty())
    stdout_is_tty: Callable[[], bool] = field(default=lambda: sys.stdout.isatty())
    colour: bool = field(default_factory=_colour_default)
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    _client: Any = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self.client_factory(self)
        return self._client  # type: ignore[no-any-return]

    @property
    def ns(self) -> str:
        """``--namespace``, else the kubeconfig context's namespace, else default."""
        return self.namespace or self.client.namespace

    def close(self) -> None:
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()


pass_app = click.make_pass_decorator(App, ensure=True)


def complete_schedule_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[str]:
    """Shell completion of a schedule NAME: one LIST in the namespace; nothing on any error."""
    try:
        from .client import SCHEDULES

        app = ctx.ensure_object(App)
        items = app.client.list(SCHEDULES, app.ns).get("items") or []
        names = sorted(str(i["metadata"]["name"]) for i in items)
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


def _setter(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(App), attribute, value)
        return value

    return store


def kube_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-n``, ``--context``, ``--kubeconfig``: where to act, as in kubectl."""
    options = [
        click.option(
            "-n",
            "--namespace",
            metavar="NS",
            expose_value=False,
            callback=_setter("namespace"),
            help="Namespace (default: the kubeconfig context's namespace).",
        ),
        click.option(
            "--context",
            metavar="NAME",
            expose_value=False,
            callback=_setter("context"),
            help="Kubeconfig context to use.",
        ),
        click.option(
            "--kubeconfig",
            metavar="PATH",
            expose_value=False,
            callback=_setter("kubeconfig"),
            help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def output_option(
    default: str | None = "table",
    formats: tuple[str, ...] | None = None,
    help_text: str = "Output format.",
) -> Callable[..., Any]:
    from .output import FORMATS

    return click.option(
        "-o",
        "--output",
        type=click.Choice(formats or FORMATS),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def object_output_option() -> Callable[..., Any]:
    """-o for the commands that change one object: a message by default, or the object."""
    return output_option(
        default=None,
        formats=("json", "yaml", "name"),
        help_text="Print the object instead of a message.",
    )


no_headers_option = click.option(
    "--no-headers", is_flag=True, help="Print tables without the header line."
)
all_namespaces_option = click.option(
    "-A", "--all-namespaces", is_flag=True, help="List across all namespaces."
)
selector_option = click.option(
    "-l", "--selector", metavar="SELECTOR", help="Label selector, e.g. team=sales."
)
user_option = click.option(
    "--user", "user", metavar="USER", help="Select the schedule whose spec.user is USER."
)
