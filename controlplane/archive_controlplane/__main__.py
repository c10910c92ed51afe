"""`python -m archive_controlplane [WORKDIR]`: a real control plane and one node agent on
loopback until SIGINT or SIGTERM; prints the admin KUBECONFIG. Everything stops, and etcd's data
goes, on exit.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from .launcher import ControlPlane


def main() -> int:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="kube-"))
    stopping: list[int] = []  # a plain flag: a handler must not take the lock an Event.wait holds
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopping.append(number))
    with ControlPlane.started(workdir) as plane:
        plane.start_node("node-1")
        print(f"Control plane ready at {plane.server}; logs in {plane.logs}", flush=True)
        print(f"  export KUBECONFIG={plane.admin_kubeconfig}", flush=True)
        print("Stop with Ctrl-C or SIGTERM.", flush=True)
        while not stopping:
            time.sleep(0.2)
        print("Stopping the control plane.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
