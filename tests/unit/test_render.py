"""Rendering ArchiveSchedules into CronJobs: golden files plus the rules each CronJob must obey.

Golden files live in tests/golden/, one per example entry. After an intended change, regenerate
them with ``UPDATE_GOLDEN=1 pytest tests/unit/test_render.py`` and review the diff.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from archive_operator.api.run import ArchiveRun
from archive_operator.api.schedule import ArchiveSchedule
from archive_operator.errors import SpecError
from archive_operator.render import render_cronjobs, render_run_job, resolve_entries
from archive_operator.schedule import parse_cron
from archive_operator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SETTINGS = Settings(runner_image="ghcr.io/auriora/archive-runner:test")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def example_schedules() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ArchiveSchedule":
                found.append(doc)
    return found


def with_identity(doc: dict[str, Any], namespace: str = "team-a") -> ArchiveSchedule:
    doc = copy.deepcopy(doc)
    doc["metadata"] |= {
        "namespace": namespace,
        "uid": f"00000000-0000-4000-8000-{doc['metadata']['name']:0>12}",
        "generation": 1,
    }
    return ArchiveSchedule.from_body(doc)


def schedule_of(name: str, **spec: Any) -> ArchiveSchedule:
    doc = next(d for d in example_schedules() if d["metadata"]["name"] == name)
    doc = copy.deepcopy(doc)
    doc["spec"].update(spec)
    return with_identity(doc)


EXAMPLES = [d["metadata"]["name"] for d in example_schedules()]


@pytest.mark.parametrize("name", EXAMPLES)
def test_golden(name: str) -> None:
    schedule = schedule_of(name)
    for manifest in render_cronjobs(schedule, SETTINGS):
        path = GOLDEN / f"cronjob-{manifest['metadata']['name']}.yaml"
        text = yaml.safe_dump(manifest, sort_keys=False, width=100)
        if UPDATE:
            path.write_text(text)
        assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
        assert yaml.safe_load(path.read_text()) == manifest, f"{path} differs"


def all_cronjobs() -> list[dict[str, Any]]:
    return [m for name in EXAMPLES for m in render_cronjobs(schedule_of(name), SETTINGS)]


def test_every_cronjob_obeys_the_rules() -> None:
    cronjobs = all_cronjobs()
    assert len(cronjobs) == 6  # alice 1, bob 1, carol 3, dana 1
    for cj in cronjobs:
        meta, spec = cj["metadata"], cj["spec"]
        assert len(meta["name"]) <= 52
        owner = meta["ownerReferences"][0]
        assert owner["kind"] == "ArchiveSchedule" and owner["controller"] is True
        assert owner["blockOwnerDeletion"] is True
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "archive-operator"
        parse_cron(spec["schedule"])
        job = spec["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["args"] == ["run"]
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        env = {e["name"]: e for e in container["env"]}
        assert env["ARCHIVE_JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.labels['batch.kubernetes.io/job-name']"
        )
        # Credentials are never in the manifest, only a reference to the Secret.
        assert not any("password" in str(e.get("value", "")).lower() for e in env.values())
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        rules = job["podFailurePolicy"]["rules"]
        assert rules[0]["onExitCodes"]["values"] == [2, 3, 4]
        assert rules[0]["action"] == "FailJob"


def test_spec_fields_reach_the_cronjob() -> None:
    (cj,) = render_cronjobs(
        schedule_of(
            "alice",
            suspend=True,
            concurrencyPolicy="Replace",
            startingDeadlineSeconds=120,
            history={"successfulRuns": 1, "failedRuns": 4},
            runner={"backoffLimit": 0, "activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 5},
        ),
        SETTINGS,
    )
    spec = cj["spec"]
    assert spec["suspend"] is True
    assert spec["concurrencyPolicy"] == "Replace"
    assert spec["startingDeadlineSeconds"] == 120
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 4)
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (
        0,
        60,
        5,
    )
    assert spec["timeZone"] == "Europe/London" and spec["schedule"] == "59 23 * * *"


def test_defaults_leave_out_starting_deadline() -> None:
    (cj,) = render_cronjobs(schedule_of("alice"), SETTINGS)
    assert "startingDeadlineSeconds" not in cj["spec"]
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"


def test_runner_limits_come_from_the_spec_else_the_installation() -> None:
    settings = SETTINGS.model_copy(
        update={
            "runner_active_deadline_seconds": 900,
            "runner_backoff_limit": 5,
            "runner_ttl_seconds_after_finished": 60,
        }
    )
    [cronjob] = render_cronjobs(schedule_of("alice"), settings)  # alice sets no runner limits
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert (job["activeDeadlineSeconds"], job["backoffLimit"], job["ttlSecondsAfterFinished"]) == (
        900,
        5,
        60,
    )
    [carol, *_] = render_cronjobs(schedule_of("carol"), settings)  # sets activeDeadlineSeconds
    assert carol["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800
    assert carol["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 5


def test_the_runner_is_told_the_jobs_deadline() -> None:
    """ARCHIVE_DEADLINE_SECONDS is the Job's activeDeadlineSeconds, picked once: no wait of
    the runner for a server's Retry-After outlives its Job."""

    def told(job: dict[str, Any]) -> str | None:
        container = job["template"]["spec"]["containers"][0]
        return {e["name"]: e.get("value") for e in container["env"]}.get("ARCHIVE_DEADLINE_SECONDS")

    settings = SETTINGS.model_copy(update={"runner_active_deadline_seconds": 900})
    [alice] = render_cronjobs(schedule_of("alice"), settings)  # no spec.runner deadline
    assert told(alice["spec"]["jobTemplate"]["spec"]) == "900"
    [carol, *_] = render_cronjobs(schedule_of("carol"), settings)  # spec.runner: 1800
    assert told(carol["spec"]["jobTemplate"]["spec"]) == "1800"
    run = ArchiveRun.from_body(
        {
            "metadata": {"name": "alice-manual", "namespace": "team-a", "uid": "uid-run"},
            "spec": {"scheduleRef": {"name": "alice"}, "start": "2025-03-01", "end": "2025-03-01"},
        }
    )
    schedule = schedule_of("alice", runner={"activeDeadlineSeconds": 60})
    job = render_run_job(schedule, run, settings)
    assert (job["spec"]["activeDeadlineSeconds"], told(job["spec"])) == (60, "60")


def test_directory_destination_mounts_the_claim() -> None:
    cronjobs = render_cronjobs(schedule_of("carol"), SETTINGS)
    pod = cronjobs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["ARCHIVE_DESTINATION_PATH"] == "/archive/carol"
    assert "ARCHIVE_CREDENTIALS_DIR" not in env  # carol has no Secret
    assert {"name": "archive", "persistentVolumeClaim": {"claimName": "calendar-archive"}} in pod[
        "volumes"
    ]


def runner_env_of(schedule: ArchiveSchedule) -> dict[str, str | None]:
    [cronjob] = render_cronjobs(schedule, SETTINGS)
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_insecure_credentials_reach_the_runner_only_when_the_schedule_opts_in() -> None:
    # Not opted in: no variable at all, so the runner refuses credentials over http:// and an
    # existing schedule's Job template does not change.
    assert "ARCHIVE_ALLOW_INSECURE_CREDENTIALS" not in runner_env_of(schedule_of("alice"))
    schedule = schedule_of("alice", allowInsecureCredentials=True)
    opted_in = runner_env_of(schedule)
    assert opted_in["ARCHIVE_ALLOW_INSECURE_CREDENTIALS"] == "true"
    assert opted_in["ARCHIVE_CREDENTIALS_DIR"] == "/var/run/secrets/archive"
    # A manual run of the schedule carries it too.
    run = ArchiveRun.from_body(
        {
            "metadata": {"name": "alice-manual", "namespace": "team-a", "uid": "uid-run"},
            "spec": {"scheduleRef": {"name": "alice"}, "start": "2025-03-01", "end": "2025-03-01"},
        }
    )
    job = render_run_job(schedule, run, SETTINGS)
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ARCHIVE_ALLOW_INSECURE_CREDENTIALS"] == "true"


def test_user_with_at_sign_gets_a_safe_label_and_exact_annotation() -> None:
    (cj,) = render_cronjobs(schedule_of("bob"), SETTINGS)
    assert cj["metadata"]["annotations"]["archive.auriora.io/user"] == "bob@example.com"
    assert cj["metadata"]["labels"]["archive.auriora.io/user"].startswith("bob-example.com-")


def test_jitter_past_midnight_shifts_the_window() -> None:
    entries = [{"name": f"e{i}", "daily": {"at": "23:59"}, "jitterMinutes": 59} for i in range(8)]
    schedule = schedule_of("alice", schedules=entries)
    shifted = 0
    for resolved, cj in zip(
        resolve_entries(schedule), render_cronjobs(schedule, SETTINGS), strict=True
    ):
        container = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["ARCHIVE_WINDOW_OFFSET_DAYS"] == str(-resolved.day_shift)
        shifted += resolved.day_shift
    assert shifted >= 1  # 23:59 plus any jitter but 0 is tomorrow


def test_rendering_is_deterministic() -> None:
    assert all_cronjobs() == all_cronjobs()


@pytest.mark.parametrize(
    ("spec", "reason", "field"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "InvalidTimeZone", "spec.timeZone"),
        (
            {"schedules": [{"name": "bad", "cron": "61 * * * *"}]},
            "InvalidSchedule",
            "spec.schedules[0].cron",
        ),
        (
            {"schedules": [{"name": "ok", "cron": "@daily"}, {"name": "dow", "cron": "0 0 * * 7"}]},
            "InvalidSchedule",
            "spec.schedules[1].cron",
        ),
        (
            {
                "schedules": [
                    {"name": "ok", "cron": "@daily"},
                    {"name": "feb", "cron": "0 0 30 2 *"},
                ]
            },
            "CronNeverFires",
            "spec.schedules[1].cron",
        ),
        ({"timeZone": "Factory"}, "InvalidTimeZone", "spec.timeZone"),
    ],
)
def test_unusable_specs(spec: dict[str, Any], reason: str, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        render_cronjobs(schedule_of("alice", **spec), SETTINGS)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"{field}: ")
    assert ";" in str(caught.value)  # and says how to fix it


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        (
            "0 0 31 4,6,9,11 *",
            "spec.schedules[0].cron: '0 0 31 4,6,9,11 *' never fires: April, June, September "
            "and November have no day 31 (February has at most 29 days; April, June, September "
            "and November 30); use a day of the month every month named has, e.g. "
            '"0 0 30 4,6,9,11 *", or days of the week instead, e.g. "0 0 * 4,6,9,11 1" for '
            "Mondays",
        ),
    ],
)
def test_a_cron_that_never_fires_makes_no_cronjob(cron: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        resolve_entries(schedule_of("alice", schedules=[{"name": "end", "cron": cron}]))
    assert caught.value.reason == "CronNeverFires"
    assert str(caught.value) == message


@pytest.mark.parametrize("cron", ["0 0 29 2 *", "0 0 30 2 1", "0 0 31 * *", "@yearly"])
def test_a_cron_that_fires_rarely_is_rendered(cron: str) -> None:
    [resolved] = resolve_entries(schedule_of("alice", schedules=[{"name": "rare", "cron": cron}]))
    assert resolved.cron == cron


# --- a feed URL that is itself a secret (issue 18 item 6) -----------------------------------

PRIVATE_FEED = "https://feeds.example.org/private-0123456789abcdef/basic.ics?key=s3cr3t-key"


def private_feed_schedule(**spec: Any) -> ArchiveSchedule:
    return schedule_of("alice", source={"ics": {"urlSecretKey": "feed-url"}}, **spec)


def test_a_secret_feed_url_reaches_the_runner_only_as_a_file_of_the_mounted_secret() -> None:
    schedule = private_feed_schedule()
    [cronjob] = render_cronjobs(schedule, SETTINGS)
    run = ArchiveRun.from_body(
        {
            "metadata": {"name": "alice-manual", "namespace": "team-a", "uid": "uid-run"},
            "spec": {"scheduleRef": {"name": "alice"}, "start": "2025-03-01", "end": "2025-03-01"},
        }
    )
    job = render_run_job(schedule, run, SETTINGS)
    for pod in (
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        job["spec"]["template"]["spec"],
    ):
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert "ARCHIVE_SOURCE_URL" not in env
        assert env["ARCHIVE_SOURCE_URL_FILE"] == {
            "name": "ARCHIVE_SOURCE_URL_FILE",
            "value": "/var/run/secrets/archive/feed-url",
        }
        assert env["ARCHIVE_SOURCE_TYPE"]["value"] == "ics"
        # The file is a key of the credentials Secret, mounted where the variable points.
        assert {
            "name": "credentials",
            "secret": {"secretName": "alice-calendar", "defaultMode": 0o440},
        } in pod["volumes"]
        assert {
            "name": "credentials",
            "mountPath": "/var/run/secrets/archive",
            "readOnly": True,
        } in container["volumeMounts"]
        # No secretKeyRef either: the URL would then be in the container's environment.
        assert "secretKeyRef" not in str(pod)


def test_the_rendered_environment_gives_the_runner_the_url_from_the_mounted_key(
    tmp_path: Path,
) -> None:
    """The contract: the runner's own loader, fed the rendered env with the Secret mounted as
    the kubelet would (its keys as files), reads the URL and treats it as a secret."""
    from archive_runner.config import SETTINGS as RUNNER_SETTINGS
    from archive_runner.config import load_config

    env = runner_env_of(private_feed_schedule())
    mount = tmp_path / "secret"
    mount.mkdir()
    (mount / "feed-url").write_text(PRIVATE_FEED + "\n")
    (mount / "username").write_text("alice")
    (mount / "password").write_text("secret")
    pod_env = {
        k: str(v).replace("/var/run/secrets/archive", str(mount))
        for k, v in env.items()
        if v is not None
    } | {"ARCHIVE_JOB_NAME": "alice-nightly-29000000"}
    options = {key: pod_env.get(variable) for key, (_, variable) in RUNNER_SETTINGS.items()}
    config = load_config(options, pod_env, datetime(2025, 3, 1, tzinfo=UTC), dry_run=False)
    assert (config.source_type, config.source_url) == ("ics", PRIVATE_FEED)
    assert config.source_url_secret is True


def test_a_secret_feed_url_without_a_credentials_secret_is_unusable() -> None:
    schedule = private_feed_schedule(credentialsSecretRef=None)
    with pytest.raises(SpecError) as caught:
        render_cronjobs(schedule, SETTINGS)
    assert caught.value.reason == "InvalidSource"
    assert str(caught.value) == (
        "spec.source.ics.urlSecretKey: 'feed-url' names a key of the credentials Secret, but "
        "spec.credentialsSecretRef is not set; set spec.credentialsSecretRef to the Secret that "
        "holds the feed URL under that key"
    )
