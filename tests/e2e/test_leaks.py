"""No secret leaks, through the whole chain (issue 18 item 7).

A canary password and canary feed tokens go through full runs, on the sandbox and on the real
control plane:

- ``auth``: a CalDAV schedule whose credentials Secret holds the canary password; Radicale's
  password is another, so the run fails with HTTP 401 (source and archive both get it);
- ``feed``: a private iCalendar feed whose URL, with canary tokens in its path and its query,
  is only in the credentials Secret (``spec.source.ics.urlSecretKey``); a feed server on
  127.0.0.1 serves it only at that URL, so the run's success proves the URL reached the runner;
- ``feed-404`` and ``feed-500``: the same kind of URL, answered 404 and 500 by that server.

Every schedule notifies a webhook on failure and on success. Then everything anyone could read
is collected: the operator's log (at debug level), every runner pod's log, the node's logs (the
sandbox's own log records; on the real control plane every component's log and the audit log),
every Event, the status and spec of every object in the namespace (termination messages
included), the operator's metrics, every webhook payload, the sandbox's request log and the
plugin's output. No canary may appear in any of it, in any encoding the chain could produce.

A control proves the collection sees what it must: a schedule (never run) whose spec URL holds
a control token must be found in the objects collected.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from .conftest import pods_reach_loopback
from .harness import BIN, CalDAV, Cluster, Operator, WebhookReceiver, free_port, wait_for
from .test_runs import LONDON, local, past_days, run_yaml, wait_finished

pytestmark = pytest.mark.slow

PASSWORD = "CANARY-pw-7f3a9c"
PATH_TOKEN = "CANARY-feedpath-2d81e6b4"
QUERY_TOKEN = "CANARY-feedquery-5c0a73e9"
CONTROL = "CONTROL-token-0e6f1b27"  # in a spec URL on purpose: the collection must find it

CANARIES = {
    "password": PASSWORD,
    "password in a Basic header": base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
    "feed path token": PATH_TOKEN,
    "feed query token": QUERY_TOKEN,
}


# --- the private feed -----------------------------------------------------------------------


def feed_path(prefix: str = "feeds") -> str:
    return f"/{prefix}/{PATH_TOKEN}/alice.ics?token={QUERY_TOKEN}"


class FeedServer:
    """Serves alice's feed at ``feed_path()`` only; 500 under /broken/, 404 (echoing the path,
    as servers do) for anything else. Records every request line."""

    def __init__(self, body: str) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                if self.path == feed_path():
                    status, content = 200, body.encode()
                elif self.path.startswith("/broken/"):
                    status, content = 500, f"failed at {self.path}".encode()
                else:
                    status, content = 404, f"no feed at {self.path}".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def feed_of(day: date) -> str:
    """Two events on ``day`` (London), as one published feed."""
    fmt = "%Y%m%dT%H%M%SZ"
    events = []
    for uid, hour in (("breakfast", 8), ("lunch", 12)):
        start = local(day, hour).astimezone(UTC)
        end = start + timedelta(minutes=30)
        events.append(
            f"BEGIN:VEVENT\r\nUID:{uid}-{day:%Y%m%d}@leaks\r\nDTSTAMP:20250101T000000Z\r\n"
            f"DTSTART:{start.strftime(fmt)}\r\nDTEND:{end.strftime(fmt)}\r\n"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//archive-operator//leaks//EN\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


# --- what the cluster is given ----------------------------------------------------------------


def secret(cluster: Cluster, namespace: str, name: str, **data: str) -> None:
    """A credentials Secret of alice's (annotated as hers: the operator's ownership check)."""
    literals = [f"--from-literal={key.replace('_', '-')}={value}" for key, value in data.items()]
    cluster.kubectl("create", "secret", "generic", name, *literals, namespace=namespace)
    cluster.kubectl(
        "annotate", "secret", name, "archive.auriora.io/user=alice", namespace=namespace
    )


def schedule(name: str, source: str, archive: str, credentials: str, at: str) -> str:
    return f"""
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveSchedule
metadata:
  name: {name}
spec:
  user: alice
  timeZone: Europe/London
  schedules: [{{name: nightly, daily: {{at: "{at}"}}}}]
  source: {source}
  destination: {{caldav: {{url: "{archive}"}}}}
  credentialsSecretRef: {{name: {credentials}}}
  runner: {{backoffLimit: 0}}
  notify:
    webhook:
      urlSecretRef: {{name: hook, key: url}}
      events: [failure, success]
"""


@contextmanager
def debug_operator_with_metrics(operator: Operator, port: int) -> Iterator[None]:
    """The session's operator, restarted at debug level with its metrics port open (the more
    it says, the more could leak); restarted as it was afterwards."""
    added = {"ARCHIVE_OPERATOR_METRICS_PORT": str(port), "ARCHIVE_OPERATOR_LOG_LEVEL": "debug"}
    saved = {key: os.environ.get(key) for key in added}
    operator.stop()
    os.environ.update(added)
    try:
        operator.start()
        yield
    finally:
        operator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        operator.start()


class Records(logging.Handler):
    """Every log record of the in-process sandbox (API server and kubelet), at any level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def sandbox_records() -> Iterator[Records]:
    logger = logging.getLogger("archive_sandbox")
    records, level = Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


# --- what anyone can read afterwards --------------------------------------------------------


def plugin(cluster: Cluster, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "kubectl-archive"), *args],
        capture_output=True, text=True, env=cluster.env(), timeout=120, check=False,
    )  # fmt: skip
    return (
        f"$ kubectl archive {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}"
    )


def collect(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    webhook: WebhookReceiver,
    metrics_port: int,
    records: Records,
    runs: list[str],
) -> dict[str, str]:
    """Name -> text of everything a user, an admin or a log reader could see."""
    seen: dict[str, str] = {"operator log": operator.log.read_text(errors="replace")}
    kinds = "archiveschedules,archiveruns,cronjobs,jobs,pods,configmaps,serviceaccounts"
    seen["objects (spec and status)"] = cluster.kubectl(
        "get", kinds, "-o", "json", namespace=namespace
    )
    seen["events (core/v1, all namespaces)"] = cluster.kubectl("get", "events", "-A", "-o", "json")
    seen["events (events.k8s.io/v1, all namespaces)"] = cluster.kubectl(
        "get", "events.events.k8s.io", "-A", "-o", "json"
    )
    pods = cluster.items("pods", namespace)
    seen["termination messages"] = json.dumps(
        [
            status.get("state", {}).get("terminated", {}).get("message")
            for pod in pods
            for status in pod.get("status", {}).get("containerStatuses", [])
        ]
    )
    for pod in pods:
        name = pod["metadata"]["name"]
        seen[f"runner log {name}"] = cluster.kubectl(
            "logs", name, "--all-containers", namespace=namespace
        )
    seen["metrics"] = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    seen["webhook payloads"] = json.dumps(webhook.payloads)
    seen["plugin"] = "\n".join(
        [
            plugin(cluster, "status", "-n", namespace),
            *(plugin(cluster, "status", name, "-n", namespace) for name in SCHEDULES),
            plugin(cluster, "history", "-n", namespace),
            plugin(cluster, "health", "-n", namespace),
            *(plugin(cluster, "logs", run, "-n", namespace) for run in runs),
        ]
    )
    if cluster.is_sandbox:
        seen["sandbox log records (API server, kubelet)"] = "\n".join(records.lines)
        assert cluster.sandbox_url is not None
        seen["sandbox request log"] = httpx.get(
            f"{cluster.sandbox_url}/sandbox/requests", params={"since": 0}, timeout=30
        ).text
    if cluster.real is not None:
        for path in sorted(cluster.real.plane.logs.iterdir()):  # node agent, API server, audit…
            seen[f"control plane {path.name}"] = path.read_text(errors="replace")
    return seen


def leaks(seen: dict[str, str], canaries: dict[str, str]) -> list[str]:
    """Every occurrence of a canary, as written, percent-encoded or JSON-escaped, in context."""
    found = []
    for what, canary in canaries.items():
        forms = {canary, quote(canary, safe=""), json.dumps(canary)[1:-1]}
        for source, text in seen.items():
            for form in forms:
                at = text.find(form)
                while at >= 0:
                    context = text[max(0, at - 100) : at + len(form) + 60].replace("\n", "⏎")
                    found.append(f"{what} in {source}: …{context}…")
                    at = text.find(form, at + 1)
    return found


SCHEDULES = ("auth", "feed", "feed-404", "feed-500")


def test_no_canary_reaches_any_log_event_status_metric_or_payload(
    cluster: Cluster,
    caldav: CalDAV,
    namespace: str,
    operator: Operator,
    webhook: WebhookReceiver,
) -> None:
    pods_reach_loopback(cluster)  # the feed server is on 127.0.0.1
    day = past_days(1)[0]
    feed = FeedServer(feed_of(day))
    metrics_port = free_port()
    try:
        with sandbox_records() as records, debug_operator_with_metrics(operator, metrics_port):
            cluster.kubectl(
                "create", "secret", "generic", "hook", f"--from-literal=url={webhook.url}",
                namespace=namespace,
            )  # fmt: skip
            # alice's Radicale password is another one: the canary gets a 401 from both sides.
            secret(cluster, namespace, "canary-calendar", username="alice", password=PASSWORD)
            archive_creds = {"destination_username": "alice", "destination_password": "secret"}
            for name, prefix in (
                ("feed", "feeds"),
                ("feed-404", "missing"),
                ("feed-500", "broken"),
            ):
                secret(
                    cluster,
                    namespace,
                    f"{name}-calendar",
                    feed_url=feed.url + feed_path(prefix),
                    **archive_creds,
                )

            # Twelve hours from now: the CronJobs exist (their templates are searched) but do
            # not fire during the test.
            at = (datetime.now(LONDON) + timedelta(hours=12)).strftime("%H:%M")
            archives = {name: caldav.new_calendar(f"archive-{name}") for name in SCHEDULES}
            private = "{ics: {urlSecretKey: feed-url}}"
            work = caldav.new_calendar("work")
            manifests = [
                schedule("auth", f'{{caldav: {{url: "{work}"}}}}', archives["auth"],
                         "canary-calendar", at),
                *(schedule(n, private, archives[n], f"{n}-calendar", at) for n in SCHEDULES[1:]),
                # The control: a token in a spec URL is stored in the objects, and found there.
                schedule("control", f'{{ics: {{url: "{feed.url}/c.ics?token={CONTROL}"}}}}',
                         archives["feed"], "feed-calendar", at),
            ]  # fmt: skip
            cluster.apply("---".join(manifests), namespace)
            runs = [f"{name}-run" for name in SCHEDULES]
            cluster.apply(
                "---".join(run_yaml(r, n, day, day) for r, n in zip(runs, SCHEDULES, strict=True)),
                namespace,
            )
            finished = {
                name: wait_finished(cluster, namespace, f"{name}-run", 120) for name in SCHEDULES
            }
            wait_for(
                lambda: sorted(webhook.kinds()) == ["failure"] * 3 + ["success"],
                "three failure notifications and one success",
            )
            wait_for(lambda: cluster.items("cronjobs", namespace), "the CronJobs")
            seen = collect(cluster, namespace, operator, webhook, metrics_port, records, runs)
    finally:
        feed.close()

    # The runs did what they were meant to: the canaries really went through the chain.
    statuses = {name: run["status"] for name, run in finished.items()}
    assert statuses["feed"]["phase"] == "Succeeded", statuses
    assert statuses["feed"]["counts"]["created"] == 2, statuses
    assert feed_path() in feed.requests  # the URL from the Secret, as it is
    assert statuses["auth"]["phase"] == "Failed", statuses
    assert statuses["auth"]["reason"] == "BadConfiguration", statuses
    assert "HTTP 401" in statuses["auth"]["message"], statuses
    assert (statuses["feed-404"]["phase"], statuses["feed-404"]["reason"]) == (
        "Failed", "BadConfiguration"
    ), statuses  # fmt: skip
    assert (statuses["feed-500"]["phase"], statuses["feed-500"]["reason"]) == (
        "Failed", "ServerUnreachable"
    ), statuses  # fmt: skip
    # Where the feed's URL is shown, it is scheme://host/… only.
    assert f"iCalendar feed {feed.url}/… not found (HTTP 404)" in statuses["feed-404"]["message"]
    assert f"iCalendar feed {feed.url}/… answered HTTP 500" in statuses["feed-500"]["message"]

    # The collection saw what it must, so finding nothing means something.
    runner_logs = "".join(text for key, text in seen.items() if key.startswith("runner log"))
    assert f'"source": "ics:{feed.url}/…"' in runner_logs, runner_logs[:2000]
    assert "HTTP 401" in runner_logs
    assert namespace in seen["metrics"] and "archive_runs_total" in seen["metrics"]
    assert "feed-404-run" in seen["webhook payloads"]
    assert (
        "RunFailed"
        in seen["events (core/v1, all namespaces)"]
        + seen["events (events.k8s.io/v1, all namespaces)"]
    )
    assert leaks(seen, {"control": CONTROL}), "the collection misses the schedules' specs"

    found = leaks(seen, CANARIES)
    assert not found, f"{len(found)} leak(s):\n" + "\n".join(found[:40])
