"""Microsoft Graph settings: checked before any request, errors that name what to fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from archive_runner.config import load_config
from archive_runner.errors import ConfigError
from archive_runner.graph_config import certificate_thumbprint

from .graph_helpers import CLIENT, SECRET, TENANT

NOW = datetime(2024, 4, 1, tzinfo=UTC)
OTHER = "11111111-2222-4333-8444-555555555555"


def options(**extra: str) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "user": "alice", "start": "2024-03-01", "end": "2024-03-31",
        "source_type": "graph", "source_graph_tenant_id": TENANT,
        "source_graph_client_id": CLIENT, "source_graph_mailbox": "alice@contoso.com",
        "destination_type": "graph", "destination_graph_mailbox": "archive@contoso.com",
        "destination_graph_calendar": "Archive",
    }  # fmt: skip
    return {**base, **extra}


ENV = {"ARCHIVE_SOURCE_GRAPH_CLIENT_SECRET": SECRET}


def test_an_archive_of_the_same_app_uses_the_source_credentials() -> None:
    config = load_config(options(), ENV, NOW, dry_run=False)
    assert config.source_graph is not None and config.destination_graph is not None
    assert config.destination_graph.app == config.source_graph.app
    assert config.destination_graph.credentials_from == "source"
    assert config.source_graph.endpoint == "https://graph.microsoft.com"
    assert config.source_graph.calendar is None  # the default calendar
    assert SECRET in config.secret_values()
    assert config.source_url == "https://graph.microsoft.com/v1.0/users/alice@contoso.com/calendar"


def test_an_archive_of_another_app_never_gets_the_source_credentials() -> None:
    with pytest.raises(ConfigError, match="destination-client-secret") as caught:
        load_config(options(destination_graph_client_id=OTHER), ENV, NOW, dry_run=False)
    assert OTHER in str(caught.value) and SECRET not in str(caught.value)
    own = {**ENV, "ARCHIVE_DESTINATION_GRAPH_CLIENT_SECRET": "another-secret-value"}
    config = load_config(options(destination_graph_client_id=OTHER), own, NOW, dry_run=False)
    assert config.destination_graph is not None
    assert config.destination_graph.credentials_from == "own"
    assert config.destination_graph.app.tenant_id == TENANT  # the source's tenant by default


def test_credentials_come_from_the_mounted_secret(tmp_path: Path) -> None:
    (tmp_path / "client-secret").write_text(SECRET + "\n")
    env = {"ARCHIVE_CREDENTIALS_DIR": str(tmp_path)}
    config = load_config(options(), env, NOW, dry_run=False)
    assert config.source_graph is not None and config.source_graph.app.kind == "client-secret"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"source_graph_tenant_id": "not a tenant"},
         "--source-graph-tenant-id / ARCHIVE_SOURCE_GRAPH_TENANT_ID (spec.source.graph.tenantId):"
         " 'not a tenant' is not a tenant id"),
        ({"source_graph_client_id": "app"},
         "(spec.source.graph.clientId): 'app' is not an application (client) id"),
        ({"source_graph_mailbox": "alice"},
         "--source-graph-mailbox / ARCHIVE_SOURCE_GRAPH_MAILBOX (spec.source.graph.mailbox): "
         "'alice' is not a mailbox"),
        ({"destination_graph_calendar": ""},
         "ARCHIVE_DESTINATION_GRAPH_CALENDAR (spec.destination.graph.calendar) is required"),
        ({"destination_graph_mailbox": ""}, "ARCHIVE_DESTINATION_GRAPH_MAILBOX"),
        ({"graph_authority_host": "http://login.example.org"},
         "ARCHIVE_GRAPH_AUTHORITY_HOST: 'http://login.example.org' is plain http://"),
        ({"graph_endpoint": "http://graph.example.org"},
         "the access token would cross the network unencrypted"),
        ({"graph_endpoint": "https://graph.microsoft.com/v1.0"}, "has a path"),
        ({"recurrence": "series"}, "'series' is not supported with a Microsoft Graph archive"),
    ],
)  # fmt: skip
def test_bad_values_name_the_setting_the_value_and_the_fix(
    extra: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(options(**extra), ENV, NOW, dry_run=False)
    assert expected in str(caught.value)


def test_a_loopback_endpoint_may_be_plain_http() -> None:
    config = load_config(options(graph_endpoint="http://127.0.0.1:8080/"), ENV, NOW, False)
    assert config.source_graph is not None
    assert config.source_graph.endpoint == "http://127.0.0.1:8080"


def test_a_source_without_credentials_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError, match="under the key client-secret"):
        load_config(options(), {}, NOW, dry_run=False)


def test_a_certificate_credential_is_checked_and_its_key_scrubbed(tmp_path: Path) -> None:
    from archive_controlplane.pki import PKI

    pair = PKI(tmp_path / "pki").issue("app", "archive-app")
    pem = Path(pair.cert).read_text() + Path(pair.key).read_text()
    env = {"ARCHIVE_SOURCE_GRAPH_CLIENT_CERTIFICATE": pem}
    config = load_config(options(), env, NOW, dry_run=False)
    assert config.source_graph is not None and config.source_graph.app.kind == "client-certificate"
    key_line = Path(pair.key).read_text().splitlines()[1]
    assert key_line in config.secret_values()
    assert len(certificate_thumbprint(pem)) == 40
    with pytest.raises(ConfigError, match="not a PEM holding a CERTIFICATE"):
        load_config(options(), {"ARCHIVE_SOURCE_GRAPH_CLIENT_CERTIFICATE": "junk"}, NOW, False)
    with pytest.raises(ConfigError, match="both set"):
        load_config(options(), {**env, **ENV}, NOW, dry_run=False)
