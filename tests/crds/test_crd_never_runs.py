"""What can never run is refused at admission: spec.timeZone must be a zone of the IANA tz
database (the CRD lists them all), and a cron whose day no month it names has ("0 0 30 2 *")
is refused where its spelling lets CEL see it; the operator refuses the other spellings."""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
from importlib import resources
from typing import Any

import pytest
import yaml
from archive_operator.schedule import fires, iana_time_zones, parse_cron
from archive_sandbox.schema import CRDSchema

from tests.crds.cases import CRD_DIR, ROOT, load_crds

CRD_NAME = "archive.auriora.io_archiveschedules.yaml"
COPIES = [CRD_DIR / CRD_NAME, ROOT / "charts" / "archive-operator" / "crds" / CRD_NAME]
SCRIPT = ROOT / "scripts" / "crd_time_zones.py"
SCHEMA = CRDSchema.from_crd(load_crds()["ArchiveSchedule"], "v1alpha1")
TZ_MESSAGE = (
    "timeZone must be an IANA time zone name of the tz database, such as Europe/London or UTC"
)
CRON_MESSAGE = "cron never fires: no month it names has that day of the month"
SCHEDULE = {
    "apiVersion": "archive.auriora.io/v1alpha1",
    "kind": "ArchiveSchedule",
    "metadata": {"name": "probe"},
    "spec": {
        "user": "alice",
        "source": {"caldav": {"url": "https://cal.example.com/a/"}},
        "destination": {"caldav": {"url": "https://cal.example.com/a-archive/"}},
    },
}


def errors_for(**spec: Any) -> list[str]:
    doc = copy.deepcopy(SCHEDULE)
    doc["spec"].update(spec)
    obj, _ = SCHEMA.prune(SCHEMA.apply_defaults(doc))
    return [e.message() for e in SCHEMA.validate(obj, None)]


def listed_zones(path: Any) -> list[str]:
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    [rule] = spec["properties"]["timeZone"]["x-kubernetes-validations"]
    assert rule["rule"].startswith("self in [") and rule["message"] == TZ_MESSAGE
    return re.findall(r"'([^']*)'", rule["rule"])


def tzdata_zones() -> set[str]:
    """The installed tzdata package's own list of its zones, read here without our code."""
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return {line.strip() for line in text.splitlines() if line.strip()}


# -- spec.timeZone -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COPIES, ids=["crds", "chart"])
def test_the_crd_lists_exactly_the_zones_of_the_installed_tzdata(path: Any) -> None:
    listed = listed_zones(path)
    assert listed == sorted(set(listed)), "sorted, no duplicates"
    # "Factory" is the tz database's placeholder for "no zone set", not a zone.
    expected = tzdata_zones() - {"Factory"}
    missing, extra = expected - set(listed), set(listed) - expected
    assert not missing and not extra, (
        f"not listed: {sorted(missing)}, no longer zones: {sorted(extra)}; "
        "run .venv/bin/python scripts/crd_time_zones.py"
    )
    assert {"UTC", "Europe/London", "US/Eastern", "Etc/GMT+5"} <= set(listed)
    assert max(map(len, listed)) <= 64  # the field's maxLength


def test_the_operator_and_the_plugin_accept_exactly_the_listed_zones() -> None:
    assert iana_time_zones() == set(listed_zones(COPIES[0]))


def test_the_script_reports_a_stale_list_and_restores_it() -> None:
    spec = importlib.util.spec_from_file_location("crd_time_zones", SCRIPT)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = COPIES[0].read_text()
    names = sorted(iana_time_zones())
    assert script.rewrite(text, names) == text  # up to date: nothing changes
    stale = text.replace("'Europe/Kyiv', ", "")
    assert stale != text
    restored = script.rewrite(stale, names)
    assert restored == text
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/Argentina/ComodRivadavia"])
def test_a_zone_is_admitted(zone: str) -> None:
    assert errors_for(timeZone=zone) == []


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus",
        "Europe/Atlantis",
        "europe/london",
        "Factory",
        "Local",
        "localtime",
        "posix/Europe/London",
        "",
        "../../etc/passwd",
    ],
)
def test_a_name_that_is_no_zone_is_refused(zone: str) -> None:
    assert errors_for(timeZone=zone) == [f'spec.timeZone: Invalid value: "{zone}": {TZ_MESSAGE}']


# -- spec.schedules[].cron -----------------------------------------------------------------------

# (expression, refused by the CRD, fires): worked out by hand from the calendar.
CRONS = [
    ("0 0 30 2 *", True, False),
    ("0 0 31 2 *", True, False),
    ("0 0 30,31 2 ?", True, False),
    ("0 0 31 4,6,9,11 *", True, False),
    ("0 0 31 2,4 *", True, False),
    ("0 0 31,31 feb,Apr,JUN,sep,nov *", True, False),
    ("0 0 030 02 *", True, False),  # Go's Atoi reads leading zeros
    ("30 4 31 11 ?", True, False),
    # Never fires, but spelled so the rule cannot see it: the operator refuses these.
    ("0 0 30-31 2 *", False, False),
    ("0 0 31 4-6/2 *", False, False),
    ("0 0 31 4 */1", False, False),
    # Fires.
    ("0 0 29 2 *", False, True),  # leap years
    ("0 0 30 2,3 *", False, True),
    ("0 0 31 4,5 *", False, True),
    ("0 0 31 * *", False, True),
    ("0 0 30 2 1", False, True),  # or any Monday in February
    ("0 0 31 4 1-5", False, True),
    ("0 0 1,31 4 *", False, True),
    ("0 0 30 4,6,9,11 *", False, True),
    ("0 0 31 12 *", False, True),
    ("0 0 31 1 *", False, True),
    ("0 0 3 12 *", False, True),
    ("0 0 31 jan *", False, True),
    ("@yearly", False, True),
]


@pytest.mark.parametrize(("cron", "refused", "fires_at_all"), CRONS, ids=[c[0] for c in CRONS])
def test_a_cron_that_never_fires_is_refused_where_cel_can_see_it(
    cron: str, refused: bool, fires_at_all: bool
) -> None:
    errors = errors_for(schedules=[{"name": "nightly", "cron": cron}])
    expected = (
        [f'spec.schedules[0].cron: Invalid value: "{cron}": {CRON_MESSAGE}'] if refused else []
    )
    assert [e.split(" (February")[0] for e in errors] == expected
    assert fires(parse_cron(cron)) is fires_at_all  # the operator's check agrees
