"""A stand-in for the archive-runner image in the fault tests: a quick run that succeeds.

The sandbox's kubelet runs it for the image `fault-runner` (see harness.py). It takes as long as
FAKE_RUNNER_SECONDS (so runs are in flight when the operator is killed), then reports one
created event the way the runner does: JSON on stdout and in the termination log.

Each execution first appends its run id and Job name to the ledger FAKE_RUNNER_LEDGER names:
what a duplicate would really cost is a second execution for one run, whatever the Jobs' names
(harness.run_problems counts them; a Job's name alone cannot show one, as the API refuses a
second object of the same name).
"""

from __future__ import annotations

import json
import os
import sys
import time

RESULT = {
    "status": "succeeded",
    "exit_code": 0,
    "message": "archived 1 event",
    "counts": {"source_objects": 1, "occurrences": 1, "created": 1, "updated": 0, "unchanged": 0},
    "errors": [],
}


def main() -> int:
    if ledger := os.environ.get("FAKE_RUNNER_LEDGER"):
        line = json.dumps(
            {"run_id": os.environ.get("ARCHIVE_RUN_ID"), "job": os.environ.get("ARCHIVE_JOB_NAME")}
        )
        # One short O_APPEND write per execution: lines of concurrent runs do not interleave.
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    time.sleep(float(os.environ.get("FAKE_RUNNER_SECONDS", "0.3")))
    text = json.dumps(RESULT)
    print(text)
    if path := os.environ.get("ARCHIVE_TERMINATION_LOG"):
        with open(path, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
