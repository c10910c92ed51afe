"""`archive-sandbox serve` driven only over HTTP and kubectl, as e2e tests drive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.fixtures.sandbox import KUBECTL
from tests.sandbox.workloads.harness import alive, group_members

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "59 23 * * *"
  timeZone: Europe/Berlin
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: busybox, command: [sh, -c, "exec sleep 1000"]}
"""


def test_serve_with_a_frozen_clock_moved_over_http(tmp_path: Path) -> None:
    images = tmp_path / "images.yaml"
    images.write_text("images:\n- image: busybox\n")
    kubeconfig = tmp_path / "kubeconfig"
    serve = [sys.executable, "-m", "archive_sandbox.cli", "serve", f"--kubeconfig={kubeconfig}"]
    options = ["--clock-speed=0", "--clock-start=2025-03-09T22:57:00Z", f"--images={images}"]
    server = subprocess.Popen(
        [*serve, *options], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert server.stdout is not None
        url = ""
        for line in server.stdout:
            if "listening on" in line:
                url = line.rsplit(" ", 1)[1].strip()
                break
        env = {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path), "PATH": os.environ["PATH"]}

        def kubectl(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run(
                [KUBECTL, *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=True,
            )
            return done.stdout

        kubectl("apply", "-f", "-", stdin=CRONJOB)
        clock = requests.post(
            f"{url}/sandbox/clock", data=json.dumps({"advance": 120}), timeout=10
        ).json()
        assert clock == {
            "now": "2025-03-09T22:59:00Z",
            "speed": 0.0,
            "frozen": True,
        }  # 23:59 in Berlin
        jobs = kubectl("get", "jobs", "-o", "name").split()
        assert jobs == [f"job.batch/nightly-{(1741561140 // 60)}"]
        pids: list[int] = []
        deadline = time.monotonic() + 15
        while not pids and time.monotonic() < deadline:
            pids = requests.get(f"{url}/sandbox/workloads/processes", timeout=5).json()["pids"]
        assert pids, "the pod's process did not start"
        members = group_members(pids[0])
        assert members
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert [m for m in members if alive(m)] == []
