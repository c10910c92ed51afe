"""One rule for a Microsoft Graph tenant, client id and mailbox (archive_runner/contract.py):
the CRD's CEL uses exactly the contract's patterns, and the plugin and the runner call its
is_graph_* checks (lengths included).
The patterns' meaning is checked by the bad cases (real API server and sandbox) and by hand
below; here, that no copy drifts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from archive_runner import contract

from tests.crds.cases import load_crds


def _place(side: str) -> dict[str, Any]:
    spec = load_crds()["ArchiveSchedule"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    graph: dict[str, Any] = spec["properties"]["spec"]["properties"][side]["properties"]["graph"]
    return graph["properties"]


def _cel_patterns(field: dict[str, Any]) -> list[str]:
    """The regular expressions of the field's ``self.matches('...')`` calls, CEL-unescaped (a
    CEL string literal writes a backslash as two)."""
    rules = " ".join(rule["rule"] for rule in field["x-kubernetes-validations"])
    return [
        found.replace("\\\\", "\\") for found in re.findall(r"self\.matches\('([^']*)'\)", rules)
    ]


@pytest.mark.parametrize("side", ["source", "destination"])
def test_the_crd_uses_the_contracts_patterns(side: str) -> None:
    place = _place(side)
    assert _cel_patterns(place["tenantId"]) == [
        contract.GRAPH_GUID_PATTERN,
        contract.GRAPH_DOMAIN_PATTERN,
    ]
    assert _cel_patterns(place["clientId"]) == [contract.GRAPH_GUID_PATTERN]
    assert _cel_patterns(place["mailbox"]) == [
        contract.GRAPH_MAILBOX_PATTERN,
        contract.GRAPH_GUID_PATTERN,
    ]
    assert place["tenantId"]["maxLength"] == contract.GRAPH_DOMAIN_MAX_LENGTH
    assert place["mailbox"]["maxLength"] == contract.GRAPH_MAILBOX_MAX_LENGTH


@pytest.mark.parametrize(
    ("mailbox", "accepted"),
    [
        ("alice@contoso.com", True),
        ("first.last+tag@mail.contoso.co.uk", True),
        ("c" * 64 + "@contoso.com", True),
        ("c" * 65 + "@contoso.com", False),  # a local part is at most 64 (RFC 5321 4.5.3.1.1)
        ("archive@contoso_eu.com", False),  # no underscore in a host name
        ("carol@contoso.com/calendars", False),  # would change the Graph URL
        ("carol%40x@contoso.com", False),
        ("car ol@contoso.com", False),
        ('"carol"@contoso.com', False),
        ("carol@@contoso.com", False),
        ("contoso.com", False),
    ],
)
def test_the_mailbox_pattern_by_hand(mailbox: str, accepted: bool) -> None:
    assert bool(re.match(contract.GRAPH_MAILBOX_PATTERN, mailbox)) is accepted


@pytest.mark.parametrize(
    ("tenant", "accepted"),
    [
        ("contoso.onmicrosoft.com", True),
        ("contoso.de", True),
        ("contoso", False),  # no top-level domain
        ("contoso.123", False),  # a top-level domain is letters
        ("-contoso.com", False),
        ("c" * 64 + ".com", False),  # a label is at most 63
        ("contoso/../common.com", False),
    ],
)
def test_the_domain_pattern_by_hand(tenant: str, accepted: bool) -> None:
    assert bool(re.match(contract.GRAPH_DOMAIN_PATTERN, tenant)) is accepted
