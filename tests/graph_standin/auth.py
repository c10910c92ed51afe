"""The Microsoft identity platform part: OIDC discovery, instance discovery and the v2.0 token
endpoint's client-credentials grant (secret or certificate-signed JWT assertion).

From "Microsoft identity platform and the OAuth 2.0 client credentials flow" and "Microsoft
identity platform application authentication certificate credentials" (x5t = base64url SHA-1
thumbprint with RS256; x5t#S256 = base64url SHA-256 thumbprint with PS256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .store import App, Store

GRAPH_GLOBAL_RESOURCE = "https://graph.microsoft.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599
CLOCK_SKEW = 300


class AuthError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description

    def body(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description}",
            "error_codes": [self.code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }


def openid_configuration(authority_host: str, tenant: str) -> dict[str, Any]:
    base = f"{authority_host}/{tenant}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{authority_host}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{authority_host}/{tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{authority_host}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": urlparse(authority_host).netloc,
    }


def unknown_tenant(tenant: str) -> AuthError:
    return AuthError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud.",
    )


def instance_discovery(authority_host: str, authorization_endpoint: str) -> dict[str, Any]:
    """GET /common/discovery/instance: where a tenant's OIDC configuration is."""
    tenant = urlparse(authorization_endpoint).path.strip("/").split("/")[0] or "common"
    host = urlparse(authority_host).netloc
    return {
        "tenant_discovery_endpoint": (
            f"{authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
        ),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _bad_assertion(code: int, description: str) -> AuthError:
    return AuthError(401, "invalid_client", code, description)


def verify_assertion(app: App, assertion: str, token_endpoint: str) -> None:
    """An RS256 (x5t) or PS256 (x5t#S256) JWT signed by one of the app's certificates, with
    aud = the token endpoint, iss = sub = client_id, and a current validity window."""
    try:
        head_b64, claims_b64, sig_b64 = assertion.split(".")
        header = json.loads(_b64url_decode(head_b64))
        claims = json.loads(_b64url_decode(claims_b64))
        signature = _b64url_decode(sig_b64)
    except ValueError as exc:
        raise _bad_assertion(50027, "JWT token is invalid or malformed.") from exc
    alg = header.get("alg")
    certs = [x509.load_pem_x509_certificate(pem) for pem in app.certificate_pems]
    if alg == "RS256":
        wanted = str(header.get("x5t", "")).rstrip("=")  # msal keeps the base64 padding
        matching = [c for c in certs if _b64url(c.fingerprint(hashes.SHA1())) == wanted]
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif alg == "PS256":
        wanted = str(header.get("x5t#S256", "")).rstrip("=")
        matching = [c for c in certs if _b64url(c.fingerprint(hashes.SHA256())) == wanted]
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    else:
        raise _bad_assertion(5002738, f"The client assertion alg '{alg}' is not supported.")
    if not matching:
        raise _bad_assertion(
            700027,
            f"The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{header.get('x5t') or header.get('x5t#S256')}']",
        )
    key = matching[0].public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _bad_assertion(700027, "Client assertion contains an invalid signature.")
    try:
        key.verify(signature, f"{head_b64}.{claims_b64}".encode(), pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise _bad_assertion(700027, "Client assertion contains an invalid signature.") from exc
    now = time.time()
    if claims.get("aud") != token_endpoint:
        raise _bad_assertion(
            700212,
            f"No matching federated identity record found for presented assertion "
            f"audience '{claims.get('aud')}'.",
        )
    if claims.get("iss") != app.client_id or claims.get("sub", app.client_id) != app.client_id:
        raise _bad_assertion(
            700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        )
    if (
        float(claims.get("exp", 0)) < now - CLOCK_SKEW
        or float(claims.get("nbf", 0)) > now + CLOCK_SKEW
    ):
        raise _bad_assertion(700024, "Client assertion is not within its valid time range.")


def accepted_scopes(base_url: str) -> tuple[str, ...]:
    return (f"{base_url}/.default",)


def token(
    store: Store,
    authority_host: str,
    graph_base_url: str,
    tenant: str,
    form: dict[str, str],
    basic: tuple[str, str] | None,
) -> dict[str, Any]:
    """POST {authority}/{tenant}/oauth2/v2.0/token with grant_type=client_credentials."""
    if tenant not in store.tenants:
        raise unknown_tenant(tenant)
    if form.get("grant_type") != "client_credentials":
        raise AuthError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{form.get('grant_type')}'.",
        )
    client_id = form.get("client_id") or (basic[0] if basic else "")
    if not client_id:
        raise AuthError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = store.apps.get((tenant, client_id))
    if app is None:
        raise AuthError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
        )
    secret = form.get("client_secret") or (basic[1] if basic else None)
    endpoint = f"{authority_host}/{tenant}/oauth2/v2.0/token"
    if form.get("client_assertion"):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise AuthError(
                400, "invalid_request", 50027, "client_assertion_type must be " + ASSERTION_TYPE
            )
        verify_assertion(app, form["client_assertion"], endpoint)
    elif secret is not None:
        if app.secret is None or not hmac.compare_digest(secret, app.secret):
            raise AuthError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the "
                f"request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{client_id}'.",
            )
    else:
        raise AuthError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: "
            "'client_assertion' or 'client_secret'.",
        )
    scopes = form.get("scope", "").split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise AuthError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope', '')} is not valid. "
            "Client credential flows must have a scope value with /.default suffixed "
            "to the resource identifier (application ID URI).",
        )
    if scopes[0] not in accepted_scopes(graph_base_url):
        resource = scopes[0].removesuffix("/.default")
        raise AuthError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant "
            f"named {tenant}. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any "
            "user in the tenant. You might have sent your authentication request to "
            "the wrong tenant.",
        )
    access = store.issue_token(app, TOKEN_LIFETIME)
    return {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": access,
    }


def sha1_thumbprint_hex(certificate_pem: bytes) -> str:
    """The hex SHA-1 thumbprint msal's client_credential={'thumbprint': ...} wants."""
    cert = x509.load_pem_x509_certificate(certificate_pem)
    return hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest().upper()
