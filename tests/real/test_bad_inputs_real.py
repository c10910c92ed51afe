"""The bad-input corpus's API cases, and the good examples as accept controls, replayed with one
and the same kubectl invocation against the real API server and the sandbox (issue 12, 4e).

For every input: (a) the real server's verdict is what the corpus expects (a bad input is
rejected with an error on the field the corpus names, carrying its message; an example is
accepted), and (b) the sandbox gives the same verdict, names the same field paths and words
every error the same. Go iterates schema properties in random order, so errors are compared as
sorted lists. Differences sandbox/README.md lists as confirmed against a real API server are
pinned at the end: each must still differ exactly as written there, and each listed entry must
have a pin, so the list can't silently go stale.

Everything is sent with ``--dry-run=server`` into a namespace of this module: nothing is stored.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bad_inputs.corpus import FileCase, api_cases, crd_cases
from tests.fixtures.controlplane import KUBECTL, ROOT, RealCluster
from tests.fixtures.sandbox import SandboxHandle

pytestmark = [pytest.mark.real, pytest.mark.slow]

README = ROOT / "sandbox" / "README.md"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
BAD = [("crds/bad/" + c.name, c) for c in crd_cases()] + [
    ("bad_inputs/api/" + c.name, c) for c in api_cases()
]
BAD_IDS = [name for name, _ in BAD]
EXAMPLE_IDS = ["examples/" + p.name for p in EXAMPLES]


def _run_with_start(start: str) -> str:
    return (
        "apiVersion: archive.auriora.io/v1alpha1\nkind: ArchiveRun\nmetadata: {name: probe}\n"
        f"spec: {{scheduleRef: {{name: alice}}, start: {start}, end: '2024-01-01'}}\n"
    )


# Beyond the corpus: wording the sandbox was fixed to match (a non-string for `format: date`).
PROBES = {
    "probe/run-start-float": _run_with_start("2024.5"),
    "probe/run-start-bool": _run_with_start("true"),
}
PROBE_IDS = list(PROBES)


@dataclass(frozen=True)
class Pin:
    """A difference sandbox/README.md lists: what each server answers, written by hand."""

    name: str  # the README entry carries `pinned: <name>`
    document: str
    real: list[tuple[str, str]]  # (field path, error line), sorted
    sandbox: list[tuple[str, str]]


_RUN_WITH_A_LIST_START = """\
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveRun
metadata: {name: pinned}
spec:
  scheduleRef: {name: alice}
  start: ["2024-01-01"]
  end: "2024-01-01"
"""
_NOT_CHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation"
)
_LIST_IN_RULE = 'spec: Invalid value: "object": invalid data, expected string, got []interface {}'

PINS = [
    Pin(
        "array-for-a-formatted-string",
        _RUN_WITH_A_LIST_START,
        real=[
            (
                "spec",
                f"{_LIST_IN_RULE} evaluating rule: a run covers at most 366 days; split a longer "
                "backfill into several runs",
            ),
            ("spec", f"{_LIST_IN_RULE} evaluating rule: end must be on or after start"),
        ],
        sandbox=[
            ("<nil>", _NOT_CHECKED),
            (
                "spec.start",
                'spec.start: Invalid value: "array": spec.start in body must be of type string: '
                '"array"',
            ),
        ],
    ),
]


@dataclass(frozen=True)
class Answer:
    code: int
    stdout: str
    stderr: str

    @property
    def accepted(self) -> bool:
        return self.code == 0

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(field path, error line) for every error the server named, sorted."""
        return parse_errors(self.stderr)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.errors]


# kubectl prints a 422 Invalid as `The Kind "name" is invalid: ...` (one error, or `* ` lines),
# a strict decoding 400 as `... strict decoding error: unknown field "spec.x", ...`.
_INVALID = re.compile(r'The \w+ "[^"]*" is invalid: ?(.*)', re.S)
_UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')


def parse_errors(stderr: str) -> list[tuple[str, str]]:
    found = []
    invalid = _INVALID.search(stderr)
    if invalid:
        body = invalid.group(1).strip()
        lines = [line[2:] for line in body.splitlines() if line.startswith("* ")] or [body]
        found += [(line.split(": ", 1)[0], line) for line in lines]
    found += [(path, f'unknown field "{path}"') for path in _UNKNOWN_FIELD.findall(stderr)]
    return sorted(found)


class Servers:
    """Runs one kubectl command line against both servers; only KUBECONFIG and HOME differ."""

    def __init__(self, real: RealCluster, sandbox: SandboxHandle, workdir: Path) -> None:
        self.namespace = f"bad-{uuid.uuid4().hex[:8]}"
        self.kubeconfigs = {"real": real.kubeconfig, "sandbox": sandbox.kubeconfig}
        self.homes = {name: workdir / name for name in self.kubeconfigs}
        for home in self.homes.values():
            home.mkdir()

    def run(self, server: str, *args: str, input: str | None = None) -> Answer:
        done = subprocess.run(
            [KUBECTL, f"--namespace={self.namespace}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(self.homes[server]),
                "KUBECONFIG": str(self.kubeconfigs[server]),
            },
        )
        return Answer(done.returncode, done.stdout, done.stderr)

    def dry_run(self, server: str, path: Path | None = None, document: str = "") -> Answer:
        source = str(path) if path else "-"
        return self.run(server, "apply", "--dry-run=server", "-f", source, input=document or None)


@pytest.fixture(scope="module")
def servers(
    real_cluster: RealCluster, sandbox: SandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    sandbox.apply_crds(*sorted((ROOT / "crds").glob("*.yaml")))
    both = Servers(real_cluster, sandbox, tmp_path_factory.mktemp("bad-inputs-real"))
    real_cluster.kubectl("create", "namespace", both.namespace)
    sandbox.create_namespace(both.namespace)
    for server in ("real", "sandbox"):  # fill each discovery cache before running in parallel
        warm = both.run(server, "get", "archiveschedules,archiveruns")
        assert warm.accepted, (server, warm.stderr)
    yield both
    real_cluster.kubectl("delete", "namespace", both.namespace, "--wait=false")
    sandbox.delete_namespace(both.namespace)


@pytest.fixture(scope="module")
def answers(servers: Servers) -> dict[str, tuple[Answer, Answer]]:
    """Input id -> (the real server's answer, the sandbox's), for the corpus and the examples."""
    inputs: list[tuple[str, Path | None, str]] = [(name, case.path, "") for name, case in BAD]
    inputs += [(name, path, "") for name, path in zip(EXAMPLE_IDS, EXAMPLES, strict=True)]
    inputs += [(name, None, document) for name, document in PROBES.items()]
    jobs = [(*item, server) for item in inputs for server in ("real", "sandbox")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: servers.dry_run(job[3], job[1], job[2]), jobs))
    by_job = {(job[0], job[3]): answer for job, answer in zip(jobs, results, strict=True)}
    return {name: (by_job[(name, "real")], by_job[(name, "sandbox")]) for name, _, _ in inputs}


# -- (a) the real API server against the corpus -------------------------------------------------


@pytest.mark.parametrize(("name", "case"), BAD, ids=BAD_IDS)
def test_the_real_server_rejects_each_bad_input_as_the_corpus_expects(
    name: str, case: FileCase, answers: dict[str, tuple[Answer, Answer]]
) -> None:
    real, _ = answers[name]
    assert not real.accepted, real.stdout
    field, message = case.header["field"], case.header["message"]
    on_field = [line for path, line in real.errors if path == field]
    assert on_field, f"no error on {field}: {real.stderr}"
    assert any(message in line for line in on_field), real.stderr


@pytest.mark.parametrize("name", EXAMPLE_IDS)
def test_the_real_server_accepts_each_example(
    name: str, answers: dict[str, tuple[Answer, Answer]]
) -> None:
    real, _ = answers[name]
    assert real.accepted, real.stderr
    lines = real.stdout.splitlines()
    assert lines and all(line.endswith(" created (server dry run)") for line in lines), lines


# -- (b) the sandbox against the real API server ------------------------------------------------


@pytest.mark.parametrize("name", BAD_IDS + EXAMPLE_IDS + PROBE_IDS)
def test_the_sandbox_answers_like_the_real_server(
    name: str, answers: dict[str, tuple[Answer, Answer]]
) -> None:
    real, sandbox = answers[name]
    assert sandbox.accepted == real.accepted, (real.stderr, sandbox.stderr)
    assert sandbox.paths == real.paths, (real.stderr, sandbox.stderr)
    assert sandbox.errors == real.errors
    assert sorted(sandbox.stderr.splitlines()) == sorted(real.stderr.splitlines())
    assert sandbox.stdout == real.stdout


def test_agreement_count(answers: dict[str, tuple[Answer, Answer]]) -> None:
    corpus = BAD_IDS + EXAMPLE_IDS
    same = [
        name
        for name in corpus
        if answers[name][0].accepted == answers[name][1].accepted
        and answers[name][0].paths == answers[name][1].paths
    ]
    print(f"REAL VS SANDBOX: {len(same)} of {len(corpus)} inputs: same verdict and field paths")
    assert len(BAD) == 77 and len(EXAMPLES) == 5  # tests/crds/bad 48 + bad_inputs/api 29
    assert same == corpus


# -- differences sandbox/README.md lists, pinned -----------------------------------------------


@pytest.mark.parametrize("pin", PINS, ids=[p.name for p in PINS])
def test_a_listed_difference_still_differs_as_written(pin: Pin, servers: Servers) -> None:
    real = servers.dry_run("real", document=pin.document)
    sandbox = servers.dry_run("sandbox", document=pin.document)
    assert not real.accepted and not sandbox.accepted, (real.stdout, sandbox.stdout)
    assert real.errors == pin.real, real.stderr
    assert sandbox.errors == pin.sandbox, sandbox.stderr


def _listed_pins() -> list[str]:
    """The `pinned: NAME` marks of the README's entries confirmed against a real server."""
    return re.findall(r"\(pinned: ([a-z0-9-]+)\)", README.read_text())


def test_every_listed_difference_is_pinned_and_every_pin_listed() -> None:
    assert sorted(_listed_pins()) == sorted(p.name for p in PINS)
