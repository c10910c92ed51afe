"""The floor: only the necessary conditional PUTs, with plain HTTP and nothing else.

Usage: python bench/runner/floor.py COLLECTION_URL PAYLOAD_DIR
Every file of PAYLOAD_DIR is PUT to COLLECTION_URL/<file name> with ``If-None-Match: *`` over
one keep-alive httpx connection (the client library and connection reuse the runner uses).
No reads, no parsing, no planning: a lower bound for any archiver writing these objects.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from server import PASSWORD, USERNAME


def put_all(collection_url: str, payloads: list[tuple[str, bytes]]) -> int:
    """PUT each (name, body); returns how many the server refused."""
    refused = 0
    headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
    with httpx.Client(auth=httpx.BasicAuth(USERNAME, PASSWORD), timeout=60) as client:
        for name, body in payloads:
            response = client.put(collection_url + name, content=body, headers=headers)
            refused += response.status_code >= 300
    return refused


def main(argv: list[str]) -> int:
    collection_url, payload_dir = argv
    payloads = [(p.name, p.read_bytes()) for p in sorted(Path(payload_dir).glob("*.ics"))]
    refused = put_all(collection_url, payloads)
    print(f"floor: {len(payloads)} PUTs, {refused} refused")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
