"""The pure parts of the image build scripts: the build's route to PyPI and the Debian mirror."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "images"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


pip_context = load("pip_context")
apt_mirror = load("apt_mirror")

HOST_PIP_CONFIG = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/other.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/old-wheels'
install.trusted-host='mirror.example'
user.index-url='https://ignored.example/simple'
"""


def test_environment_overrides_files_and_unrelated_scopes_are_ignored() -> None:
    settings = pip_context.parse_pip_config_list(HOST_PIP_CONFIG)
    assert settings["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert settings["find-links"] == "/opt/wheels"
    assert settings["trusted-host"] == "mirror.example"
    assert "index-url" not in settings


def test_build_context_mounts_local_mirrors_and_rewrites_the_ca_path() -> None:
    context = pip_context.build_context(pip_context.parse_pip_config_list(HOST_PIP_CONFIG))
    # A local simple index links to ../../files: the tree above simple/ is mounted.
    assert context.mounts == ("/opt/pypi", "/opt/pypi-more", "/opt/wheels")
    assert context.ca_bundle == "/etc/ssl/certs/ca-certificates.crt"
    assert "cert = /etc/xdg/pip/ca-bundle.crt\n" in context.pip_conf
    assert "find-links = /opt/wheels\n" in context.pip_conf
    # The machine's constraints file is policy, not the route to PyPI.
    assert "constraint" not in context.pip_conf


def test_remote_indexes_need_no_mount() -> None:
    context = pip_context.build_context({"index-url": "https://mirror.example/simple"})
    assert context.mounts == ()
    assert "index-url = https://mirror.example/simple\n" in context.pip_conf


def test_script_writes_the_conf_and_prints_volume_options(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    out = tmp_path / "conf"
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "pip_context.py"), str(out)],
        input=f"global.find-links='{wheels}'\nglobal.cert='{ca}'\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        f"--volume={out}:/etc/xdg/pip:ro",
        f"--volume={wheels}:{wheels}:ro",
    ]
    assert (out / "ca-bundle.crt").read_text(encoding="utf-8") == ca.read_text(encoding="utf-8")
    assert f"find-links = {wheels}" in (out / "pip.conf").read_text(encoding="utf-8")


def test_script_names_a_missing_local_mirror(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "pip_context.py"), str(tmp_path / "conf")],
        input="global.find-links='/nonexistent/wheels'\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "'/nonexistent/wheels'" in result.stderr
    assert not (tmp_path / "conf").exists()


def test_mirror_from_deb822_sources_skips_security_and_updates() -> None:
    sources = """\
Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
"""
    entries = apt_mirror.deb822_entries(sources)
    assert apt_mirror.mirror_for("bookworm", entries) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_with_options() -> None:
    sources = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
    )
    entries = apt_mirror.one_line_entries(sources)
    assert apt_mirror.mirror_for("bookworm", entries) == "http://one.example/debian"


def test_mirror_defaults_to_debian_when_apt_knows_no_such_suite() -> None:
    entries = apt_mirror.one_line_entries("deb http://one.example/ubuntu jammy main\n")
    assert apt_mirror.mirror_for("bookworm", entries) == apt_mirror.DEFAULT_MIRROR
