"""Credentials reach only the origin they were given for, and never cross a network in cleartext
without the run's opt-in (issue 18 item 2). Each test performs the attack against servers on
127.0.0.1 that record every request's Authorization header: two ports are two origins.
"""

from __future__ import annotations

import base64
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from archive_controlplane.pki import PKI

from tests.fixtures.radicale import Collection, RadicaleServer

from .cutoff_proxy import cutoff_proxy
from .helpers import Outcome, event, feed, run_cli

SOURCE_PASSWORD = "Pa55-of-the-source"
SOURCE_TOKEN = "T0ken-of-the-source"
DAY = ["--start", "2024-03-05", "--end", "2024-03-05"]

Answer = tuple[int, dict[str, str], bytes]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class Seen:
    method: str
    target: str  # the request line's target (an absolute URL when sent to a proxy)
    authorization: str | None


@dataclass
class Recorder:
    """What one server on 127.0.0.1 received."""

    url: str
    requests: list[Seen] = field(default_factory=list)

    @property
    def authorizations(self) -> list[str | None]:
        return [seen.authorization for seen in self.requests]


def _asks_for_credentials(_: str) -> Answer:
    """What a host fishing for credentials answers: 401 with a Basic challenge."""
    return 401, {"WWW-Authenticate": 'Basic realm="archive"'}, b""


@contextmanager
def recording_server(
    answer: Callable[[str], Answer] = _asks_for_credentials, tls: ssl.SSLContext | None = None
) -> Iterator[Recorder]:
    """An HTTP server on 127.0.0.1 (a free port) recording each request, answering ``answer``;
    with ``tls`` (a server context), an https one."""
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            recorder.requests.append(
                Seen(self.command, self.path, self.headers.get("Authorization"))
            )
            status, headers, body = answer(self.path)
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_REPORT = do_PROPFIND = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    recorder = Recorder(url=f"{scheme}://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def source(radicale: RadicaleServer) -> Collection:
    collection = radicale.new_collection("work")
    collection.seed("standup.ics", event("standup@example.org", "20240305T090000Z",
                                         "20240305T093000Z"))  # fmt: skip
    return collection


# --- another origin gets none of the source's credentials --------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": SOURCE_PASSWORD},
        {"ARCHIVE_SOURCE_TOKEN": SOURCE_TOKEN},
    ],
    ids=["basic", "bearer"],
)
def test_an_archive_on_another_origin_receives_no_authorization(
    source: Collection, credentials: dict[str, str]
) -> None:
    with recording_server() as other_host:
        outcome = run_cli(
            ["--user", "alice", "--source-url", source.url,
             "--destination-url", f"{other_host.url}/alice/archive/", *DAY],
            credentials,
        )  # fmt: skip
    assert outcome.exit_code == 4
    assert other_host.requests, "the archive was never asked: the test proves nothing"
    assert other_host.authorizations == [None] * len(other_host.requests)
    for secret in (SOURCE_PASSWORD, SOURCE_TOKEN):
        assert secret not in outcome.stderr + str(outcome.result)


def test_a_401_from_an_archive_without_credentials_says_why_and_how_to_fix_it(
    radicale: RadicaleServer, source: Collection
) -> None:
    with recording_server() as other_host:
        outcome = run_cli(
            ["--user", "alice", "--source-url", source.url,
             "--destination-url", f"{other_host.url}/alice/archive/", *DAY],
            {"ARCHIVE_SOURCE_USERNAME": radicale.username,
             "ARCHIVE_SOURCE_PASSWORD": radicale.password},
        )  # fmt: skip
    assert outcome.exit_code == 4
    assert outcome.result["message"] == (
        f"archive calendar {other_host.url}/alice/archive/ rejected the credentials (HTTP 401); "
        "it got no credentials: the source's are sent only to the source's origin (scheme, "
        "host, port); give the archive its own as destination-username/destination-password "
        "or destination-token in the credentials Secret "
        "(ARCHIVE_DESTINATION_USERNAME/_PASSWORD/_TOKEN)"
    )
    assert '"destination_auth": "none (the source\'s are not sent to another origin)"' in (
        outcome.stderr
    )


def test_an_archive_on_another_origin_gets_its_own_credentials_only(source: Collection) -> None:
    with recording_server() as other_host:
        outcome = run_cli(
            ["--user", "alice", "--source-url", source.url,
             "--destination-url", f"{other_host.url}/alice/archive/", *DAY],
            {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": SOURCE_PASSWORD,
             "ARCHIVE_DESTINATION_USERNAME": "archiver",
             "ARCHIVE_DESTINATION_PASSWORD": "archive-pass"},
        )  # fmt: skip
    assert outcome.exit_code == 4  # the recorder answers 401 to everything
    assert other_host.authorizations == [basic("archiver", "archive-pass")]


def test_the_same_origin_behind_a_proxy_port_is_another_origin(
    radicale: RadicaleServer, source: Collection, tmp_path: Path
) -> None:
    """The archive is the same Radicale, reached through another port: another origin, so it
    needs its own credentials; with them the run archives."""
    archive = radicale.new_collection("archive")
    only_source = {
        "ARCHIVE_SOURCE_USERNAME": radicale.username,
        "ARCHIVE_SOURCE_PASSWORD": radicale.password,
    }
    with cutoff_proxy(radicale.port, allow=100) as proxy:
        through_proxy = archive.url.replace(radicale.base_url, proxy)
        args = ["--user", "alice", "--source-url", source.url, "--destination-url", through_proxy]
        refused = run_cli([*args, *DAY], only_source)
        assert refused.exit_code == 4
        assert (
            "rejected the credentials (HTTP 401); it got no credentials"
            in (refused.result["message"])
        )
        own = {
            **only_source,
            "ARCHIVE_DESTINATION_USERNAME": radicale.username,
            "ARCHIVE_DESTINATION_PASSWORD": radicale.password,
        }
        archived = run_cli([*args, *DAY], own)
    assert archived.exit_code == 0, archived.result
    assert archived.counts["created"] == 1
    assert len(archive.items()) == 1


@pytest.mark.parametrize(
    "credentials",
    [
        {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": SOURCE_PASSWORD},
        {"ARCHIVE_SOURCE_TOKEN": SOURCE_TOKEN},
    ],
    ids=["basic", "bearer"],
)
def test_a_feed_redirecting_to_another_origin_does_not_take_the_credentials_along(
    credentials: dict[str, str], tmp_path: Path
) -> None:
    outcome, publisher, other = run_redirected_feed(tmp_path, credentials, 302)
    assert outcome.exit_code == 0, outcome.result
    assert outcome.counts["created"] == 1
    assert publisher.authorizations[0] is not None  # the publisher got them: the test can fail
    assert [seen.target for seen in other.requests] == ["/moved/alice.ics"]
    assert other.authorizations == [None]


def test_a_plain_http_feed_redirecting_to_https_is_fetched_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed's client follows redirects, so a plain-http feed's client still verifies TLS
    with the run's CA bundle (a CalDAV client of a plain-http server needs none: test_tls.py)."""
    pki = PKI(tmp_path / "pki")
    serving = pki.issue("feed", "127.0.0.1", server=True, ips=("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(serving.cert, serving.key)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca.cert))
    archive = tmp_path / "archive"
    archive.mkdir()

    outcome, _, other = run_redirected_feed(archive, {}, 301, tls=context)

    assert other.url.startswith("https://")
    assert outcome.exit_code == 0, outcome.result.get("message")
    assert outcome.counts["created"] == 1
    assert [seen.target for seen in other.requests] == ["/moved/alice.ics"]


def run_redirected_feed(
    archive: Path, credentials: dict[str, str], status: int, tls: ssl.SSLContext | None = None
) -> tuple[Outcome, Recorder, Recorder]:
    """A run of a feed whose publisher (plain http) answers ``status`` and a Location at
    another origin (https with ``tls``), which serves it: (outcome, publisher, other)."""
    body = feed([event("lunch@example.org", "20240305T120000Z", "20240305T130000Z")]).encode()
    with recording_server(lambda _: (200, {"Content-Type": "text/calendar"}, body), tls) as other:
        location = f"{other.url}/moved/alice.ics"
        with recording_server(lambda _: (status, {"Location": location}, b"")) as publisher:
            outcome = run_cli(
                ["--user", "alice", "--source-type", "ics",
                 "--source-url", f"{publisher.url}/alice.ics",
                 "--destination-type", "directory", "--destination-path", str(archive), *DAY],
                credentials,
            )  # fmt: skip
    return outcome, publisher, other


# --- no credentials over plain http:// without the opt-in ---------------------------------------


def through_proxy(proxy: Recorder) -> dict[str, str]:
    """Every plain-http request goes to ``proxy`` (httpx honours http_proxy), so a request to
    a host that is not loopback is observable without a second machine or DNS."""
    return {"http_proxy": proxy.url, "no_proxy": ""}


def test_credentials_over_plain_http_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    args = [
        "--user", "alice", "--source-url", "http://cal.example.org/alice/work/",
        "--destination-type", "directory", "--destination-path", str(tmp_path), *DAY,
    ]  # fmt: skip
    credentials = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": SOURCE_PASSWORD}
    with recording_server() as network:
        refused = run_cli(args, {**credentials, **through_proxy(network)})
        assert network.requests == []
        opted_in = run_cli(
            ["--allow-insecure-credentials", *args], {**credentials, **through_proxy(network)}
        )
        by_env = run_cli(
            args,
            {**credentials, **through_proxy(network), "ARCHIVE_ALLOW_INSECURE_CREDENTIALS": "true"},
        )
    assert refused.exit_code == 4
    assert refused.result["status"] == "failed"
    assert refused.result["message"].startswith(
        "--source-url / ARCHIVE_SOURCE_URL (spec.source.caldav.url): "
        "'http://cal.example.org/alice/work/' is plain http://"
    )
    assert SOURCE_PASSWORD not in refused.stderr + str(refused.result)
    # Opted in (flag, then environment): the credentials do go out, in cleartext.
    assert opted_in.exit_code == by_env.exit_code == 4  # the recorder answers 401
    assert [seen.target for seen in network.requests] == ["http://cal.example.org/alice/work/"] * 2
    assert network.authorizations == [basic("alice", SOURCE_PASSWORD)] * 2


def test_loopback_over_plain_http_is_exempt_and_never_goes_through_a_proxy(
    radicale: RadicaleServer, source: Collection, tmp_path: Path
) -> None:
    with recording_server() as network:
        outcome = run_cli(
            ["--user", "alice", "--source-url", source.url,
             "--destination-type", "directory", "--destination-path", str(tmp_path), *DAY],
            {"ARCHIVE_SOURCE_USERNAME": radicale.username,
             "ARCHIVE_SOURCE_PASSWORD": radicale.password, **through_proxy(network)},
        )  # fmt: skip
    assert outcome.exit_code == 0, outcome.result
    assert outcome.counts["created"] == 1
    assert network.requests == []
