"""A feed URL that is itself a secret (issue 18 item 6): given in a file (--source-url-file, the
credentials Secret's key under the operator), it is used as it is and shown nowhere but as
scheme://host[:port]/…, on every path: success, 404, 500, unreachable, redirects, malformed
events (errors[].href), configuration errors, and a crash (the last-line scrub).

Each test runs the real CLI against a feed server on 127.0.0.1 that serves only the secret URL
and then searches everything the run emits (the JSON result, every log line, the termination
message) for the token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from archive_runner.redact import Scrubber, redact_url, secret_url_parts

from .helpers import Outcome, event, feed, run_cli

# Canaries: in no output may any of them appear.
TOKEN = "CANARY-feed-token-4be1d07a"
KEY = "CANARY-query-key-93c2e5f1"
PASSWORD = "CANARY-pw-7f3a9c"
CANARIES = (TOKEN, KEY, PASSWORD)
DAY = ["--start", "2024-03-05", "--end", "2024-03-05"]
GOOD = event("standup@example.org", "20240305T090000Z", "20240305T093000Z", "Standup")
MALFORMED = (
    "BEGIN:VEVENT\nUID:broken@example.org\nDTSTAMP:20240101T000000Z\nDTSTART:31/03/2024\nEND:VEVENT"
)


@dataclass
class FeedServer:
    """Serves the feed at /feeds/<TOKEN>/basic.ics?key=<KEY> only; records what it was asked."""

    url: str
    paths: list[str] = field(default_factory=list)

    def secret_url(self, path: str = f"/feeds/{TOKEN}/basic.ics?key={KEY}") -> str:
        return self.url + path


@contextmanager
def feed_server(body: str = feed([GOOD])) -> Iterator[FeedServer]:
    server_record: FeedServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_record.paths.append(self.path)
            status, headers, content = self.answer()
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(content))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(content)

        def answer(self) -> tuple[int, dict[str, str], bytes]:
            path = self.path
            if path == f"/feeds/{TOKEN}/basic.ics?key={KEY}":
                return 200, {"Content-Type": "text/calendar"}, body.encode()
            if path.startswith(f"/broken/{TOKEN}"):
                return 500, {}, f"internal error at {path}".encode()
            if path.startswith(f"/moved/{TOKEN}"):  # to a target that does not exist
                return 302, {"Location": f"/gone/{TOKEN}/x.ics?key={KEY}"}, b""
            if path.startswith(f"/loop/{TOKEN}"):
                return 302, {"Location": path}, b""
            return 404, {}, f"no feed at {path}".encode()  # echoes the path, as servers do

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_record = FeedServer(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_record
    finally:
        server.shutdown()
        server.server_close()


def url_file(tmp_path: Path, url: str, name: str = "feed-url") -> Path:
    path = tmp_path / "credentials" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(url + "\n", "utf-8")
    return path


def run_feed(
    tmp_path: Path, source: list[str], env: dict[str, str] | None = None
) -> tuple[Outcome, str]:
    """The runner on a directory archive; returns the outcome and everything it emitted."""
    archive = tmp_path / "archive"
    archive.mkdir(exist_ok=True)
    termination = tmp_path / "termination-log"
    outcome = run_cli(
        ["--user", "alice", "--source-type", "ics", *source, "--destination-type", "directory",
         "--destination-path", str(archive), "--termination-log", str(termination), *DAY],
        env,
    )  # fmt: skip
    emitted = json.dumps(outcome.result) + outcome.stderr
    if termination.exists():
        emitted += termination.read_text()
    return outcome, emitted


def assert_no_canary(emitted: str) -> None:
    for canary in CANARIES:
        assert canary not in emitted, f"{canary} leaked: {emitted}"


# --- the redaction itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        ("https://feeds.example.org/a/b.ics?token=x#f", False, "https://feeds.example.org/a/b.ics"),
        ("https://feeds.example.org/a/b.ics?token=x#f", True, "https://feeds.example.org/…"),
        ("https://u:pw@Feeds.Example.org:8443/p?q", False, "https://feeds.example.org:8443/p"),
        ("https://u:pw@feeds.example.org:8443/p?q", True, "https://feeds.example.org:8443/…"),
        ("http://[::1]:8080/private/x", True, "http://[::1]:8080/…"),
        ("https://h:notaport/p?token=x", True, "https://h/…"),
        ("not a url with a token", True, "…"),
        ("/srv/feeds/alice.ics", False, "/srv/feeds/alice.ics"),
    ],
)
def test_redact_url(url: str, secret: bool, shown: str) -> None:
    assert redact_url(url, secret=secret) == shown


def test_the_scrubber_replaces_every_form_of_a_secret_url_but_not_common_words() -> None:
    url = f"https://feeds.example.org/calendar/ical/{TOKEN}/basic.ics?key={KEY}"
    scrub = Scrubber([*secret_url_parts(url), PASSWORD, "short"])
    text = scrub.text(
        f"GET {url} failed; path /calendar/ical/{TOKEN}/basic.ics, key {KEY}, "
        f"pw {PASSWORD}, source calendar, a short word"
    )
    assert_no_canary(text)
    assert "source calendar" in text and "a short word" in text
    assert scrub.value({"a": [f"x{TOKEN}"], TOKEN: 1}) == {"a": ["x[redacted]"], "[redacted]": 1}


# --- a run with a secret URL ----------------------------------------------------------------


def test_a_secret_feed_url_is_used_and_shown_as_scheme_host_only(tmp_path: Path) -> None:
    with feed_server(feed([GOOD], [MALFORMED])) as server:
        path = url_file(tmp_path, server.secret_url())
        outcome, emitted = run_feed(tmp_path, ["--source-url-file", str(path)])
    assert server.paths == [f"/feeds/{TOKEN}/basic.ics?key={KEY}"]  # the URL, as it is
    assert outcome.exit_code == 3, outcome.stderr  # the malformed event fails, the rest is kept
    assert outcome.counts["created"] == 1
    assert outcome.result["source"] == f"ics:{server.url}/…"
    assert [e["href"] for e in outcome.result["errors"]] == [f"{server.url}/…#broken@example.org"]
    started = next(
        json.loads(line) for line in outcome.stderr.splitlines() if '"run started"' in line
    )
    assert (started["source"], started["source_url_from"]) == (f"ics:{server.url}/…", "file")
    assert_no_canary(emitted)


@pytest.mark.parametrize(
    ("path", "exit_code", "message"),
    [
        # 404 whose body echoes the path; the error names where the URL is configured.
        (
            f"/missing/{TOKEN}/basic.ics?key={KEY}",
            4,
            "not found (HTTP 404); check --source-url-file",
        ),
        (f"/broken/{TOKEN}/basic.ics?key={KEY}", 5, "answered HTTP 500; retry later"),
        # Redirected to a path that also holds the token, which then is not found.
        (f"/moved/{TOKEN}/basic.ics?key={KEY}", 4, "not found (HTTP 404)"),
        (f"/loop/{TOKEN}/basic.ics?key={KEY}", 4, "redirects too many times"),
    ],
    ids=["404", "500", "redirect-then-404", "redirect-loop"],
)
def test_a_failing_secret_feed_url_is_not_shown(
    tmp_path: Path, path: str, exit_code: int, message: str
) -> None:
    with feed_server() as server:
        secret = url_file(tmp_path, server.secret_url(path))
        outcome, emitted = run_feed(tmp_path, ["--source-url-file", str(secret)])
    assert outcome.exit_code == exit_code, outcome.stderr
    assert f"iCalendar feed {server.url}/… " in outcome.result["message"]
    assert message in outcome.result["message"]
    assert_no_canary(emitted)


def test_an_unreachable_secret_feed_url_is_not_shown(tmp_path: Path) -> None:
    with feed_server() as server:
        gone = server.secret_url()
    secret = url_file(tmp_path, gone)  # nothing listens there any more
    outcome, emitted = run_feed(tmp_path, ["--source-url-file", str(secret)])
    assert outcome.exit_code == 5, outcome.stderr
    assert outcome.result["message"].startswith(f"iCalendar feed {server.url}/… unreachable")
    assert_no_canary(emitted)


def test_a_crash_is_scrubbed_of_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: an exception quoting the URL and the password (a bug) reaches
    the log's traceback and the result only as [redacted]."""
    import archive_runner.run as run_module

    def broken(text: str, origin: str) -> list[Any]:
        raise RuntimeError(f"bug while reading {url} with {PASSWORD}")

    monkeypatch.setattr(run_module.IcsSource, "fetch", lambda self, window: broken("", ""))
    with feed_server() as server:
        url = server.secret_url()
        secret = url_file(tmp_path, url)
        outcome, emitted = run_feed(
            tmp_path,
            ["--source-url-file", str(secret)],
            {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": PASSWORD},
        )
    assert outcome.exit_code == 1
    assert "RuntimeError: bug while reading [redacted] with [redacted]" in outcome.stderr
    assert_no_canary(emitted)


# --- configuration errors name the setting and the fix, never the URL -----------------------


def config_error(tmp_path: Path, source: list[str], env: dict[str, str] | None = None) -> str:
    outcome, emitted = run_feed(tmp_path, source, env)
    assert outcome.exit_code == 4, outcome.stderr
    assert_no_canary(emitted)
    message = str(outcome.result["message"])
    assert "\n" not in message
    return message


def test_a_missing_or_empty_url_file_names_the_key_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "credentials" / "feed-url"
    message = config_error(tmp_path, ["--source-url-file", str(missing)])
    assert message == (
        "--source-url-file / ARCHIVE_SOURCE_URL_FILE (spec.source.ics.urlSecretKey): "
        f"{str(missing)!r} does not exist; put the iCalendar feed URL under the key 'feed-url' "
        "of the credentials Secret (spec.credentialsSecretRef), or set "
        "spec.source.ics.urlSecretKey to the key that holds it"
    )
    empty = url_file(tmp_path, "")
    assert f"{str(empty)!r} is empty; put the iCalendar feed URL" in config_error(
        tmp_path, ["--source-url-file", str(empty)]
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (TOKEN, "'…' is not an http(s) URL (the file's content is not shown)"),
        (f"ftp://feeds.example.org/{TOKEN}", "'ftp://feeds.example.org/…' is not an http(s) URL;"),
        (
            f"https://alice:{PASSWORD}@feeds.example.org/{TOKEN}",
            "'https://feeds.example.org/…' contains credentials",
        ),
        (f"https://feeds.example.org:port/{TOKEN}", "'https://feeds.example.org/…' is not a valid"),
    ],
    ids=["not-a-url", "ftp", "userinfo", "bad-port"],
)
def test_a_bad_url_in_the_file_is_refused_without_showing_it(
    tmp_path: Path, content: str, expected: str
) -> None:
    message = config_error(tmp_path, ["--source-url-file", str(url_file(tmp_path, content))])
    assert message.startswith(
        "--source-url-file / ARCHIVE_SOURCE_URL_FILE (spec.source.ics.urlSecretKey): "
    )
    assert expected in message


def test_cleartext_credentials_to_a_secret_url_name_the_field_not_the_url(tmp_path: Path) -> None:
    secret = url_file(tmp_path, f"http://feeds.example.org/{TOKEN}/basic.ics?key={KEY}")
    message = config_error(
        tmp_path, ["--source-url-file", str(secret)], {"ARCHIVE_SOURCE_TOKEN": PASSWORD}
    )
    assert message.startswith(
        "--source-url-file / ARCHIVE_SOURCE_URL_FILE (spec.source.ics.urlSecretKey): "
        "'http://feeds.example.org/…' is plain http://"
    )


def test_a_url_and_a_url_file_together_or_for_caldav_are_refused(tmp_path: Path) -> None:
    secret = url_file(tmp_path, f"https://feeds.example.org/{TOKEN}")
    both = config_error(
        tmp_path, ["--source-url-file", str(secret), "--source-url", "https://e.org/a.ics"]
    )
    assert "--source-url / ARCHIVE_SOURCE_URL and --source-url-file" in both
    assert "are both set; use one" in both
    caldav = config_error(tmp_path, ["--source-url-file", str(secret), "--source-type", "caldav"])
    assert "--source-url-file / ARCHIVE_SOURCE_URL_FILE is for --source-type" in caldav


@pytest.mark.parametrize("bad", ["\n", "\x00", "\r"])
def test_a_token_with_a_control_character_is_refused_without_showing_it(
    tmp_path: Path, bad: str
) -> None:
    """The HTTP client's own error would quote the header: "Illegal header value b'Bearer …'".
    The token comes from the mounted Secret (a file can hold a NUL, the environment cannot)."""
    with feed_server() as server:
        secret = url_file(tmp_path, server.secret_url())
        (secret.parent / "token").write_text(f"{PASSWORD}{bad}second-line\n")
        message = config_error(
            tmp_path,
            ["--source-url-file", str(secret)],
            {"ARCHIVE_CREDENTIALS_DIR": str(secret.parent)},
        )
        assert server.paths == []  # refused before anything was sent
    assert message.startswith(
        "ARCHIVE_SOURCE_TOKEN (the credentials Secret's key token) contains a line break or "
        "another control character (the value is not shown)"
    )


# --- a URL given in the settings ------------------------------------------------------------


def test_a_setting_url_with_a_query_is_shown_without_it_and_warned_about(tmp_path: Path) -> None:
    with feed_server() as server:
        outcome, emitted = run_feed(tmp_path, ["--source-url", server.secret_url()])
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.result["source"] == f"ics:{server.url}/feeds/{TOKEN}/basic.ics"
    assert KEY not in emitted
    warning = next(
        json.loads(line) for line in outcome.stderr.splitlines() if "has a query" in line
    )
    assert warning["level"] == "warning"
    assert "--source-url-file" in warning["hint"]


def test_switching_to_the_secret_url_keeps_the_archive_identity(tmp_path: Path) -> None:
    """The same feed, given in a setting and then as a secret, is one source: no duplicates."""
    with feed_server() as server:
        first, _ = run_feed(tmp_path, ["--source-url", server.secret_url()])
        secret = url_file(tmp_path, server.secret_url())
        second, _ = run_feed(tmp_path, ["--source-url-file", str(secret)])
    assert first.counts["created"] == 1
    assert (second.counts["created"], second.counts["unchanged"]) == (0, 1)
