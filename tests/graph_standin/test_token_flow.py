"""The identity platform part of the Graph stand-in, driven by the real msal."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import msal
import pytest
from archive_controlplane.pki import PKI

from tests.graph_standin import GraphStandIn
from tests.graph_standin.app_certificate import rsa_certificate

T = "contoso"
ALICE = "alice@contoso.com"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


def test_msal_secret_and_certificate_over_tls(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    # msal insists on an https authority; requests (inside msal) prefers REQUESTS_CA_BUNDLE from
    # the environment over msal's verify=, so the CA goes there. instance_discovery=False keeps
    # msal from asking login.microsoftonline.com/common/discovery/instance about 127.0.0.1.
    # Scope: the Graph root's host + "/.default" (national-cloud rule), here base_url/.default.
    pair = pki.issue("graph", "127.0.0.1", server=True, ips=("127.0.0.1",))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca.cert))
    cert_pem, key_pem, thumbprint = rsa_certificate()
    with GraphStandIn(tls=(str(pair.cert), str(pair.key))) as graph:
        assert graph.base_url.startswith("https://127.0.0.1:")
        graph.add_app(T, "secret-app", secret="s3cret")
        graph.add_app(T, "cert-app", certificate_pem=cert_pem, roles=("Calendars.ReadWrite",))
        graph.add_mailbox(T, ALICE)
        authority, scopes = f"{graph.authority_host}/{T}", [f"{graph.base_url}/.default"]
        credentials: list[Any] = [
            ("secret-app", "s3cret"),
            ("cert-app", {"private_key": key_pem, "thumbprint": thumbprint}),  # RS256 + x5t
            ("cert-app", {"private_key": key_pem, "public_certificate": cert_pem}),  # PS256
        ]
        for client_id, credential in credentials:
            app = msal.ConfidentialClientApplication(
                client_id,
                authority=authority,
                client_credential=credential,
                instance_discovery=False,
            )
            result = app.acquire_token_for_client(scopes=scopes)
            assert result.get("token_type") == "Bearer", result
            assert result["expires_in"] > 3000
            r = httpx.get(
                f"{graph.base_url}/v1.0/users/{ALICE}/calendars",
                headers={"Authorization": f"Bearer {result['access_token']}"},
                verify=ssl.create_default_context(cafile=str(pki.ca.cert)),
            )
            assert r.status_code == 200
        assert graph.tokens_issued == 3
        bad = msal.ConfidentialClientApplication(
            "secret-app", authority=authority, client_credential="wrong", instance_discovery=False
        )
        assert bad.acquire_token_for_client(scopes=scopes)["error"] == "invalid_client"
        paths = {r.path for r in graph.requests}
        assert f"/{T}/v2.0/.well-known/openid-configuration" in paths
        assert f"/{T}/oauth2/v2.0/token" in paths
