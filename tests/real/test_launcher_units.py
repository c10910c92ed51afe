"""The launcher's stop / start / restart of one component (controlplane/archive_controlplane/
launcher.py), on a stand-in component: a Python HTTP server on a free loopback port whose
health URL is its root. No Go binaries, so not marked `real`: these run in every tier. The real
components are stopped and started by tests/real/test_control_plane_faults_real.py.
"""

from __future__ import annotations

import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_controlplane.launcher import Component, ControlPlane, ControlPlaneError, free_port

# An HTTP server serving `data`; with IGNORE_TERM it ignores SIGTERM (a process that hangs in
# its shutdown, as kube-apiserver does with watches open).
SERVER = """
import http.server, os, signal, sys
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
port, data = int(sys.argv[1]), sys.argv[2]
handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=data)
print(f"serving {port} pid {os.getpid()}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "plane", tmp_path)  # no binaries are started here
    try:
        yield plane
    finally:
        plane.stop()


def fake(plane: ControlPlane, name: str = "fake", *, ignore_term: bool = False) -> str:
    """Start the stand-in as component `name`; return its URL."""
    data = plane.workdir / f"{name}-data"
    data.mkdir()
    (data / "kept.txt").write_text("data outlives the process\n")
    port = free_port()
    script = plane.workdir / "server.py"
    script.write_text(SERVER)
    argv = [sys.executable, "-u", str(script), str(port), str(data)]
    if ignore_term:
        plane.env = {"IGNORE_TERM": "1"}
    url = f"http://127.0.0.1:{port}/"
    plane._launch(Component(name, argv, url))
    return url


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "kept.txt", timeout=5) as reply:
            return bool(reply.status == 200 and reply.read() == b"data outlives the process\n")
    except (urllib.error.URLError, OSError):
        return False


def test_stop_and_start_again_keeps_command_line_port_data_and_log(plane: ControlPlane) -> None:
    url = fake(plane)
    component = plane.component("fake")
    first = plane.pids()["fake"]
    argv = list(component.argv)

    assert plane.stop_component("fake", signal.SIGTERM) == -signal.SIGTERM
    assert not plane.running("fake")
    assert not answers(url)

    plane.start_component("fake")  # waits for its health URL
    assert plane.running("fake")
    assert plane.pids()["fake"] != first
    assert component.argv == argv
    assert answers(url)  # same port, same data
    assert [c.name for c in plane.components] == ["fake"]  # its place kept, nothing added
    assert component.log_path is not None
    lines = component.log_path.read_text().splitlines()
    assert [x.split(" pid ")[0] for x in lines if x.startswith("serving")] == [
        f"serving {url.rsplit(':', 1)[1].strip('/')}"
    ] * 2  # the log continues: both processes wrote to it


def test_restart_with_sigkill_reports_the_signal(plane: ControlPlane) -> None:
    url = fake(plane)
    first = plane.pids()["fake"]
    assert plane.restart("fake", signal.SIGKILL, down_seconds=0.1) == -signal.SIGKILL
    assert plane.running("fake") and plane.pids()["fake"] != first
    assert answers(url)


def test_sigterm_ignored_is_followed_by_sigkill_after_the_grace(plane: ControlPlane) -> None:
    fake(plane, ignore_term=True)
    assert plane.stop_component("fake", signal.SIGTERM, grace=0.5) == -signal.SIGKILL


def test_misuse_is_refused(plane: ControlPlane) -> None:
    fake(plane)
    with pytest.raises(ControlPlaneError, match=r"no component 'etcd'.*started: fake"):
        plane.stop_component("etcd")
    with pytest.raises(ControlPlaneError, match="still running"):
        plane.start_component("fake")
    with pytest.raises(ValueError, match="SIGTERM or SIGKILL"):
        plane.stop_component("fake", signal.SIGHUP)
    plane.stop_component("fake")
    with pytest.raises(ControlPlaneError, match="not running"):
        plane.stop_component("fake")


def test_stop_of_the_whole_plane_still_stops_a_restarted_component(plane: ControlPlane) -> None:
    url = fake(plane, "one")
    fake(plane, "two")
    plane.restart("one")
    plane.stop_component("two", signal.SIGKILL)  # left stopped: stop() skips it
    processes = [c.process for c in plane.components]
    plane.stop()
    assert plane.components == []
    assert all(p is not None and p.poll() is not None for p in processes)
    assert not answers(url)
