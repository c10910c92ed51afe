"""The sandbox's fault mode (sandbox/archive_sandbox/faults.py) over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from archive_sandbox.app import Sandbox
from archive_sandbox.auth import DEFAULT_ADMIN_TOKEN, Users
from archive_sandbox.faults import (
    KINDS,
    Fault,
    FaultConfig,
    FaultInjector,
    FaultSpecError,
    build_rule,
    choose,
    parse_spec,
)
from archive_sandbox.routing import parse_request

OPERATOR_TOKEN = "faulty-operator-token"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    users = Users()
    users.add(OPERATOR_TOKEN, "operator")
    with Sandbox.threaded(users=users) as sb:
        yield sb


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as client:
        yield client
    sandbox.faults.disable()


def configmap(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}


# --- the spec ---------------------------------------------------------------------------------


def test_spec_parses_rules_filters_and_global_settings() -> None:
    config = parse_spec(
        "seed=7,500=0.1,429=0.05,verbs=create+patch,retry-after=3;drop=0.5,verbs=watch,"
        "users=operator,drop-after=0.25"
    )
    assert config.seed == 7 and config.retry_after_seconds == 3
    assert config.drop_after_seconds == 0.25
    first, second = config.rules
    assert first.rates == {"500": 0.1, "429": 0.05}
    assert first.verbs == {"create", "patch"} and not first.users
    assert second.rates == {"drop": 0.5} and second.users == {"operator"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("500=2", "500='2': the share must be a number 0..1"),
        ("503=0.1", "fault spec key '503' is unknown"),
        ("500=0.6,429=0.6", "fault shares add up to 1.2; they must add up to at most 1"),
        ("seed=x", "seed='x': must be an integer"),
        ("verbs=get", "has filters but no fault shares"),
        ("500", "expected key=value"),
    ],
)
def test_bad_spec_is_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)


def test_shares_are_honoured_and_seeded() -> None:
    config = parse_spec("seed=1,500=0.2,429=0.1,409=0.1,slow=0.1")
    rule = config.rules[0]

    def run(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.configure(FaultConfig(seed=seed, rules=config.rules))
        info = parse_request("PUT", "/api/v1/namespaces/a/configmaps/x", False)
        out = []
        for _ in range(5000):
            fault = injector.decide(info, "/api/v1/namespaces/a/configmaps/x", "u")
            out.append(fault.kind if fault else None)
        return out

    first = run(1)
    assert first == run(1)  # same seed, same decisions
    assert first != run(2)
    shares = Counter(first)
    for kind, rate in rule.rates.items():
        assert abs(shares[kind] / 5000 - rate) < 0.03, (kind, shares)
    # 409 and drop do not apply to reads: their share of GETs is left alone.
    get_rule = build_rule({"409": 0.5, "drop": 0.5})
    assert choose(config, get_rule, "get", 0.2, 0.0) is None
    assert choose(config, get_rule, "get", 0.7, 0.0) is None
    drop = choose(config, get_rule, "watch", 0.7, 0.5)
    assert drop is not None and drop.kind == "drop"
    assert drop.seconds == 0.5 * config.drop_after_seconds


# --- over HTTP --------------------------------------------------------------------------------


def test_500_does_nothing_and_is_counted_and_logged(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("500=1,verbs=create"))
    mark = sandbox.requests.mark()
    response = admin.post(CONFIGMAPS, json=configmap("fail-500"))
    assert response.status_code == 500
    assert response.json()["reason"] == "InternalError"
    assert admin.get(f"{CONFIGMAPS}/fail-500").status_code == 404  # reads are not faulted
    stats = sandbox.faults.stats()
    assert stats["injected"]["500"] == 1 and stats["requests"] == 1
    (record,) = [r for r in sandbox.requests.since(mark) if r.verb == "create"]
    assert record.code == 500 and record.extra == {"fault": "500"}
    logged = admin.get("/sandbox/requests", params={"since": mark}).json()["items"]
    assert [i["extra"] for i in logged if i["verb"] == "create"] == [{"fault": "500"}]


def test_429_carries_retry_after(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("429=1,retry-after=3"))
    response = admin.get(CONFIGMAPS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["details"]["retryAfterSeconds"] == 3


def test_409_only_for_updates_patches_deletes(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("409=1"))
    assert admin.post(CONFIGMAPS, json=configmap("conflicted")).status_code == 201
    response = admin.patch(
        f"{CONFIGMAPS}/conflicted",
        content=b'{"data":{"a":"2"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 409
    assert "the object has been modified" in response.json()["message"]
    assert admin.delete(f"{CONFIGMAPS}/conflicted").status_code == 409
    sandbox.faults.disable()
    assert admin.get(f"{CONFIGMAPS}/conflicted").json()["data"] == {"a": "1"}


def test_timeout_answers_504_after_the_write_happened(
    sandbox: Sandbox, admin: httpx.Client
) -> None:
    sandbox.faults.configure(parse_spec("timeout=1,verbs=create,timeout-seconds=0.2"))
    response = admin.post(CONFIGMAPS, json=configmap("ambiguous"))
    assert response.status_code == 504 and response.json()["reason"] == "Timeout"
    assert admin.get(f"{CONFIGMAPS}/ambiguous").status_code == 200  # it was created


@pytest.mark.parametrize(("kind", "created"), [("hang", False), ("hang-applied", True)])
def test_hang_outlasts_the_clients_timeout_with_or_without_the_write(
    sandbox: Sandbox, admin: httpx.Client, kind: str, created: bool
) -> None:
    sandbox.faults.configure(parse_spec(f"{kind}=1,verbs=create,hang-seconds=3"))
    name = f"held-{kind}"
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):  # the client's own timeout path, not an answer
        admin.post(CONFIGMAPS, json=configmap(name), timeout=0.5)
    assert time.monotonic() - started < 2.5  # the client gave up; the server still held it
    assert sandbox.faults.stats()["injected"][kind] == 1
    sandbox.faults.disable()
    expected = 200 if created else 404
    assert admin.get(f"{CONFIGMAPS}/{name}").status_code == expected


def test_hang_past_its_seconds_ends_in_a_cut_connection(
    sandbox: Sandbox, admin: httpx.Client
) -> None:
    sandbox.faults.configure(parse_spec("hang=1,verbs=get,hang-seconds=0.3"))
    with pytest.raises(httpx.RemoteProtocolError):  # no answer at all, then the connection ends
        admin.get(f"{CONFIGMAPS}/anything", timeout=5)


def test_reset_cuts_the_answer_mid_body_after_the_write(
    sandbox: Sandbox, admin: httpx.Client
) -> None:
    sandbox.faults.configure(parse_spec("reset=1,verbs=create"))
    with admin.stream("POST", CONFIGMAPS, json=configmap("half-answered")) as response:
        assert response.status_code == 201  # status and headers arrived
        announced = int(response.headers["content-length"])
        with pytest.raises(httpx.TransportError):  # then the body stops short
            response.read()
    assert announced > 0
    sandbox.faults.disable()
    assert admin.get(f"{CONFIGMAPS}/half-answered").status_code == 200  # it was created


def test_lag_delays_each_watch_event(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("lag=1,lag-seconds=0.6"))
    seen: list[float] = []
    now = admin.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]  # no initial events
    params = {"watch": "1", "timeoutSeconds": "4", "resourceVersion": now}
    with admin.stream("GET", CONFIGMAPS, params=params) as response:
        sandbox.faults.disable()  # only the watch lags, not the writes below
        created = time.monotonic()
        for name in ("lagging-1", "lagging-2"):
            assert admin.post(CONFIGMAPS, json=configmap(name)).status_code == 201
        for line in response.iter_lines():
            if '"ADDED"' in line and "lagging-" in line:
                seen.append(time.monotonic() - created)
            if len(seen) == 2:
                break
    # Each event 0.6 s after the one before it: the second at least 1.2 s after the writes.
    assert seen[0] >= 0.6 and seen[1] >= 1.2, seen


def test_hang_applied_and_reset_leave_watches_alone() -> None:
    config = parse_spec("hang-applied=0.5,reset=0.5")
    rule = config.rules[0]
    assert choose(config, rule, "watch", 0.2, 0.0) is None
    assert choose(config, rule, "watch", 0.7, 0.0) is None
    assert choose(config, rule, "create", 0.2, 0.0) == Fault("hang-applied", 10.0)


def test_slow_answers_normally(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("slow=1,slow-seconds=0.1"))
    assert admin.get(CONFIGMAPS).status_code == 200
    assert sandbox.faults.stats()["injected"]["slow"] == 1


def test_drop_cuts_a_watch_mid_stream(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("drop=1,drop-after=0.3"))
    started = time.monotonic()
    # No clean end of the chunked stream: the client sees a transport error.
    with (
        pytest.raises(httpx.TransportError),
        admin.stream("GET", CONFIGMAPS, params={"watch": "1"}) as response,
    ):
        assert response.status_code == 200
        for _ in response.iter_lines():
            pass
    assert time.monotonic() - started < 5
    assert sandbox.faults.stats()["injected"]["drop"] == 1


def test_filters_pick_the_user_and_resource(sandbox: Sandbox, admin: httpx.Client) -> None:
    sandbox.faults.configure(parse_spec("500=1,users=operator,resources=configmaps"))
    assert admin.get(CONFIGMAPS).status_code == 200  # another user
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=operator, timeout=10) as client:
        assert client.get(CONFIGMAPS).status_code == 500
        assert client.get("/api/v1/namespaces/default/secrets").status_code == 200


def test_sandbox_endpoints_and_discovery_are_never_faulted(
    sandbox: Sandbox, admin: httpx.Client
) -> None:
    sandbox.faults.configure(parse_spec("500=1"))
    for path in ("/version", "/api", "/apis", "/api/v1", "/healthz", "/sandbox/requests/mark"):
        assert admin.get(path).status_code == 200, path
    assert admin.get("/sandbox/faults").json()["requests"] == 0


def test_http_endpoint_turns_faults_on_and_off(sandbox: Sandbox, admin: httpx.Client) -> None:
    answer = admin.post("/sandbox/faults", json={"spec": "seed=3,500=1,verbs=list"}).json()
    assert answer["enabled"] is True and answer["config"]["seed"] == 3
    assert admin.get(CONFIGMAPS).status_code == 500
    structured = {"seed": 4, "rules": [{"rates": {"429": 1}, "verbs": ["list"]}]}
    assert admin.post("/sandbox/faults", json=structured).json()["config"]["seed"] == 4
    assert admin.get(CONFIGMAPS).status_code == 429
    bad = admin.post("/sandbox/faults", json={"spec": "500=7"})
    assert bad.status_code == 400 and "0..1" in bad.json()["message"]
    off = admin.delete("/sandbox/faults").json()
    assert off["enabled"] is False and off["injected"]["429"] == 1
    assert admin.get(CONFIGMAPS).status_code == 200
    assert set(off["injected"]) == set(KINDS)


def test_serve_takes_a_fault_spec(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "archive_sandbox.cli", "serve", "--faults", "500=9"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "--faults" in bad.stderr and "0..1" in bad.stderr
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archive_sandbox.cli",
            "serve",
            "--kubeconfig",
            str(tmp_path / "kubeconfig"),
            "--faults",
            "seed=5,500=1,verbs=list",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        url = lines[0].rsplit(" ", 1)[-1].strip()
        assert lines[1].startswith("Fault mode on: 1 rule(s), seed 5"), lines
        headers = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}
        assert httpx.get(url + CONFIGMAPS, headers=headers).status_code == 500
        assert httpx.get(url + "/sandbox/faults").json()["injected"]["500"] == 1
    finally:
        process.terminate()
        process.wait(10)
