"""Every output format of the read commands, against golden files (UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from archive_operator.cli.errors import EXIT_UNHEALTHY

from .conftest import Run

Golden = Callable[[str, str], None]

CASES = [
    ("status-table.txt", ["status"]),
    ("status-wide.txt", ["status", "-o", "wide"]),
    ("status-no-headers.txt", ["status", "--no-headers"]),
    ("status-all-namespaces.txt", ["status", "-A"]),
    ("status-json.txt", ["status", "-o", "json"]),
    ("status-yaml.txt", ["status", "-o", "yaml"]),
    ("status-name.txt", ["status", "-o", "name"]),
    ("status-alice.txt", ["status", "alice"]),
    ("status-carol.txt", ["status", "carol"]),
    ("status-bob-table.txt", ["status", "--user", "bob@example.com", "-o", "table"]),
    ("status-alice-json.txt", ["status", "alice", "-o", "json"]),
    ("status-alice-yaml.txt", ["status", "alice", "-o", "yaml"]),
    ("history-alice.txt", ["history", "alice"]),
    ("history-wide.txt", ["history", "-o", "wide"]),
    ("history-json.txt", ["history", "bob", "-o", "json"]),
    ("history-yaml.txt", ["history", "bob", "-o", "yaml"]),
    ("history-name.txt", ["history", "alice", "-o", "name"]),
    ("history-limit-no-headers.txt", ["history", "alice", "--limit", "1", "--no-headers"]),
]


@pytest.mark.parametrize(("golden_name", "args"), CASES, ids=[c[0] for c in CASES])
def test_read_outputs(run_cli: Run, golden: Golden, golden_name: str, args: list[str]) -> None:
    done = run_cli(*args)
    assert done.code == 0, done.err
    golden(golden_name, done.out)


HEALTH = [
    ("health-table.txt", ["health"]),
    ("health-wide.txt", ["health", "-o", "wide"]),
    ("health-json.txt", ["health", "-o", "json"]),
    ("health-yaml.txt", ["health", "-o", "yaml"]),
    ("health-name.txt", ["health", "-o", "name"]),
]


@pytest.mark.parametrize(("golden_name", "args"), HEALTH, ids=[c[0] for c in HEALTH])
def test_health_outputs_and_exit(
    run_cli: Run, golden: Golden, golden_name: str, args: list[str]
) -> None:
    done = run_cli(*args)
    assert done.code == EXIT_UNHEALTHY  # bob's runs fail
    assert "1 of 3 schedules unhealthy" in done.err
    golden(golden_name, done.out)


def test_health_of_a_healthy_schedule_exits_zero(run_cli: Run) -> None:
    done = run_cli("health", "alice")
    assert done.code == 0
    assert "healthy" in done.out


def test_health_strict_counts_unknown(run_cli: Run) -> None:
    from .objects import schedule

    fresh = schedule("dave", "dave")  # no status yet: unknown
    assert run_cli("health", objects=[fresh]).code == 0
    assert run_cli("health", "--strict", objects=[fresh]).code == EXIT_UNHEALTHY


def test_colour_only_when_enabled(run_cli: Run, golden: Golden) -> None:
    plain = run_cli("status").out
    coloured = run_cli("status", colour=True).out
    assert "\x1b[" not in plain
    assert "\x1b[32mTrue\x1b[0m" in coloured
    # Colour never moves the columns.
    assert [len(line) for line in _strip(coloured).splitlines()] == [
        len(line) for line in plain.splitlines()
    ]
    golden("status-colour.txt", coloured)


def _strip(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_health_reports_a_schedule_with_a_blocked_run_unhealthy_even_suspended(
    run_cli: Run,
) -> None:
    from .objects import condition, schedule

    message = (
        "run dave-manual-20241218-00001 is Blocked: pod dave-manual-20241218-00001-5vq8d "
        'cannot start: CreateContainerConfigError: secret "dave-calendar" not found'
    )
    for suspend in (False, True):
        stuck = schedule("dave", "dave", suspend=suspend)
        stuck["status"] = {
            "conditions": [
                condition("Ready", "True", "Reconciled", "no CronJobs"),
                condition("Healthy", "False", "RunsBlocked", message),
            ]
        }
        done = run_cli("health", "-o", "wide", objects=[stuck])
        assert done.code == EXIT_UNHEALTHY
        assert "RunsBlocked" in done.out
        assert 'secret "dave-calendar" not found' in done.out
        assert "1 of 1 schedules unhealthy" in done.err
