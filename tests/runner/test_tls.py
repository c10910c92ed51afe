"""The runner over TLS, against a real Radicale serving https with a certificate of a test CA.

A run's clients share one TLS context (backends/http.py ``tls_context``, built once per run):
these tests prove that context verifies the server for both the source's and the archive's
client, honours SSL_CERT_FILE as httpx's own does, and refuses a server it cannot verify. A
plain-http run builds none (``trusting_nothing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from archive_controlplane.pki import PKI
from archive_runner.backends.http import RequestCounter, make_client, tls_context, trusting_nothing
from archive_runner.config import Credentials

from tests.fixtures.processes import stop_process
from tests.fixtures.radicale import (
    PASSWORD,
    USERNAME,
    Collection,
    RadicaleServer,
    free_port,
    make_collection,
    start_radicale,
    write_config,
)

from .helpers import Outcome, event, run_cli

MARCH = ["--start", "2024-03-01", "--end", "2024-03-31", "--time-zone", "Europe/London"]
CREDENTIALS = {"ARCHIVE_SOURCE_USERNAME": USERNAME, "ARCHIVE_SOURCE_PASSWORD": PASSWORD}


class TlsRadicale:
    def __init__(self, root: Path) -> None:
        pki = PKI(root / "pki")
        self.ca = pki.ca.cert
        serving = pki.issue("radicale", "127.0.0.1", server=True, ips=("127.0.0.1",))
        self.storage = root / "storage"
        self.storage.mkdir()
        self.port = free_port()
        config = write_config(root, self.port, self.storage)
        tls = f"ssl = True\ncertificate = {serving.cert}\nkey = {serving.key}\n"
        config.write_text(config.read_text().replace("[server]\n", f"[server]\n{tls}", 1))
        self.process = start_radicale(config, self.port, root / "radicale.log")

    def new_collection(self, name: str) -> Collection:
        return make_collection(self.storage, f"https://127.0.0.1:{self.port}", name)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsRadicale]:
    radicale = TlsRadicale(tmp_path)
    try:
        yield radicale
    finally:
        stop_process(radicale.process)


def _run(server: TlsRadicale, env: dict[str, str]) -> tuple[Outcome, Collection]:
    source = server.new_collection("work")
    source.seed("lunch.ics", event("lunch@example.org", "20240305T120000Z", "20240305T130000Z"))
    archive = server.new_collection("archive")
    outcome = run_cli(
        ["--user", "alice", "--source-url", source.url, "--destination-url", archive.url, *MARCH],
        {**CREDENTIALS, **env},
    )
    return outcome, archive


def test_both_clients_verify_the_server_with_the_ca_named_by_ssl_cert_file(
    server: TlsRadicale,
) -> None:
    outcome, archive = _run(server, {"SSL_CERT_FILE": str(server.ca)})

    assert outcome.exit_code == 0, outcome.result
    archived = list(archive.items().values())
    assert len(archived) == 1  # read over TLS by the source's client, written by the archive's
    assert "UID:lunch@example.org" in archived[0]


def test_a_server_the_run_cannot_verify_is_a_configuration_error_and_nothing_is_written(
    server: TlsRadicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    outcome, archive = _run(server, {})  # certifi's bundle: the test CA is not in it

    assert outcome.exit_code == 4  # a setting to fix: the Job does not retry it
    message = outcome.result["message"]
    assert "TLS certificate cannot be verified" in message
    assert "certificate verify failed" in message  # the ssl module's reason, kept
    assert archive.items() == {}


def test_a_plain_http_run_does_not_load_the_ca_bundle(
    radicale: RadicaleServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither client of a plain-http run makes a TLS connection, so the run builds no context
    from the CA bundle (~40-70 ms of a re-run's start-up): a bundle that cannot be read does not
    matter. httpx's own context would fail on it (FileNotFoundError)."""
    source, archive = radicale.new_collection("work"), radicale.new_collection("archive")
    source.seed("lunch.ics", event("lunch@example.org", "20240305T120000Z", "20240305T130000Z"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))

    outcome = run_cli(
        ["--user", "alice", "--source-url", source.url, "--destination-url", archive.url, *MARCH],
        CREDENTIALS,
    )

    assert outcome.exit_code == 0, outcome.result
    assert len(archive.items()) == 1
    with pytest.raises(FileNotFoundError):
        tls_context()  # what the run would have built before


def test_the_context_of_a_plain_http_client_trusts_no_certificate(
    server: TlsRadicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a plain-http client ever be led to TLS, nothing verifies, not even a server the
    run's own context (SSL_CERT_FILE: the test CA) trusts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca))
    url = f"https://127.0.0.1:{server.port}/"
    counter = RequestCounter()
    with make_client(Credentials(), 10, counter, url, tls_context()) as trusted:
        assert trusted.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 401
    with (
        make_client(Credentials(), 10, counter, url, trusting_nothing()) as plain,
        pytest.raises(httpx.ConnectError, match="certificate verify failed"),
    ):
        plain.request("PROPFIND", url, headers={"Depth": "0"})
