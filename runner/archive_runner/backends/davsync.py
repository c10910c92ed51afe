"""The cheap WebDAV reads and the one write the run cache needs (cache.py), for CalDAV:

- a collection's sync token, CTag and the cache property: one PROPFIND, Depth 0 (RFC 4918
  9.1, RFC 6578 4, caldav-ctag-02);
- what changed in a collection since a token: sync-collection REPORT, sync-level 1, ETags only
  (RFC 6578 3.2); a token the server no longer knows is refused with 403/409 and
  DAV:valid-sync-token (3.2, 4.1), and the run then takes the full path;
- given objects by href: calendar-multiget REPORT (RFC 4791 7.9); a 404 for one href is an
  object that is not there, not an error;
- the cache property itself: PROPPATCH (RFC 4918 9.2), a dead property of the collection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpx

from ..errors import ServerError
from ..redact import redact_url
from .caldav import CALDAV, DAV, Multistatus, parse_multistatus, same_path
from .http import DEFAULT_CREDENTIALS_HINT, RetryPolicy, check_read, send

_XML = "application/xml; charset=utf-8"
SYNC_TOKEN = f"{DAV}sync-token"
# Calendar Server's collection tag (caldav-ctag-02): changes whenever the collection or any of
# its members changes. Not an RFC, but Radicale, SabreDAV, Google and Apple give it.
CTAG = "{http://calendarserver.org/ns/}getctag"


@dataclass(frozen=True)
class CollectionState:
    sync_token: str | None  # None: the server has no sync tokens (no cache then)
    cache: str | None  # the cache property's text, if it is set
    ctag: str | None = None  # the CTag, if asked for and the server gives one


@dataclass(frozen=True)
class Changes:
    """What a sync-collection answered: the new token, and the hrefs changed or gone."""

    token: str
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    etags: dict[str, str | None] = field(default_factory=dict)  # of the changed, by href


def _split(clark: str) -> tuple[str, str]:
    namespace, _, local = clark[1:].partition("}")
    return namespace, local


def read_state(
    client: httpx.Client,
    url: str,
    what: str,
    setting: str,
    credentials_hint: str,
    cache_property: str | None,
    retry: RetryPolicy | None,
    *,
    with_ctag: bool = False,
) -> CollectionState:
    """The collection's sync token and, if asked, its CTag and the cache property, from one
    PROPFIND, so all of them describe one state of the collection. A server without PROPFIND
    (405, 501) has none of them; any other failure is the run's, as for its reads."""
    wanted = [SYNC_TOKEN] + ([CTAG] if with_ctag else [])
    wanted += [cache_property] if cache_property is not None else []
    found = _read_properties(client, url, what, setting, credentials_hint, wanted, retry)
    return CollectionState(
        sync_token=found.get(SYNC_TOKEN) or None,
        cache=found.get(cache_property) if cache_property is not None else None,
        ctag=found.get(CTAG) or None,
    )


def read_ctag(
    client: httpx.Client, url: str, what: str, setting: str, retry: RetryPolicy | None
) -> str | None:
    """The collection's CTag alone (None: the server gives none). Servers compute it cheaper
    than a sync token: Radicale hashes its members' ETags, without their history."""
    found = _read_properties(client, url, what, setting, DEFAULT_CREDENTIALS_HINT, [CTAG], retry)
    return found.get(CTAG) or None


def _read_properties(
    client: httpx.Client,
    url: str,
    what: str,
    setting: str,
    credentials_hint: str,
    wanted: list[str],
    retry: RetryPolicy | None,
) -> dict[str, str | None]:
    """The texts of the ``wanted`` properties (Clark notation) of the collection, Depth 0."""
    namespaces: dict[str, str] = {}
    props = ""
    for clark in wanted:
        namespace, local = _split(clark)
        prefix = namespaces.setdefault(namespace, f"N{len(namespaces)}")
        props += f"<{prefix}:{local}/>"
    declarations = " ".join(f'xmlns:{p}="{escape(n)}"' for n, p in namespaces.items())
    body = f'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" {declarations}>'
    body += f"<D:prop>{props}</D:prop></D:propfind>"
    headers = {"Content-Type": _XML, "Depth": "0"}
    response = send(client, "PROPFIND", url, what, retry=retry, content=body, headers=headers)
    if response.status_code in (405, 501):
        return {}
    check_read(response, what, setting, credentials_hint)
    root = _multistatus(response, what, url)
    return {clark: _found(root, clark) for clark in wanted}


def _found(root: ElementTree.Element, clark: str) -> str | None:
    """A property's text from the 200 propstats of a PROPFIND answer."""
    for propstat in root.iter(f"{DAV}propstat"):
        if " 200 " in f"{propstat.findtext(f'{DAV}status') or ''} ":
            value = propstat.findtext(f"{DAV}prop/{clark}")
            if value is not None:
                return value.strip()
    return None


def changes_since(
    client: httpx.Client, url: str, token: str, what: str, setting: str, retry: RetryPolicy | None
) -> Changes | None:
    """The changes since ``token``, or None if the server refuses the token (the full path)."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{escape(token)}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
    headers = {"Content-Type": _XML}
    response = send(client, "REPORT", url, what, retry=retry, content=body, headers=headers)
    if response.status_code in (403, 409) and b"valid-sync-token" in response.content:
        return None
    check_read(response, what, setting)
    root = _multistatus(response, what, url)
    new_token = (root.findtext(f"{DAV}sync-token") or "").strip()
    if not new_token:
        return None
    changes = Changes(token=new_token)
    collection = urlsplit(url).path
    for response_element in root.iter(f"{DAV}response"):
        href = (response_element.findtext(f"{DAV}href") or "").strip()
        if same_path(href, collection):
            continue
        status = response_element.findtext(f"{DAV}status") or ""
        if " 404 " in f"{status} ":
            changes.deleted.append(href)
        else:
            changes.changed.append(href)
            etag = response_element.findtext(f"{DAV}propstat/{DAV}prop/{DAV}getetag")
            changes.etags[href] = etag.strip() if etag else None
    return changes


def multiget(
    client: httpx.Client,
    url: str,
    hrefs: list[str],
    what: str,
    setting: str,
    retry: RetryPolicy | None,
) -> Multistatus:
    """The objects at ``hrefs``; one the server answers 404 for is not there, not a failure."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<C:calendar-multiget xmlns:D="DAV:" xmlns:C="{CALDAV[1:-1]}">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        + "".join(f"<D:href>{escape(href)}</D:href>" for href in hrefs)
        + "</C:calendar-multiget>"
    )
    headers = {"Content-Type": _XML, "Depth": "1"}
    response = send(client, "REPORT", url, what, retry=retry, content=body, headers=headers)
    check_read(response, what, setting)
    if response.status_code != 207:
        _multistatus(response, what, url)  # raises: says what the server answered instead
    parsed = parse_multistatus(response.content, urlsplit(url).path)
    return Multistatus(found=parsed.found, failed=[f for f in parsed.failed if f.status != 404])


def write_property(
    client: httpx.Client, url: str, clark: str, value: str, what: str, retry: RetryPolicy | None
) -> bool:
    """Set a dead property of the collection; whether the server took it."""
    namespace, local = _split(clark)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:propertyupdate xmlns:D="DAV:" xmlns:X="{escape(namespace)}"><D:set><D:prop>'
        f"<X:{local}>{escape(value)}</X:{local}></D:prop></D:set></D:propertyupdate>"
    )
    headers = {"Content-Type": _XML}
    response = send(client, "PROPPATCH", url, what, retry=retry, content=body, headers=headers)
    if response.status_code != 207:
        return False
    return _found(_multistatus(response, what, url), clark) is not None


def _multistatus(response: httpx.Response, what: str, url: str) -> ElementTree.Element:
    if response.status_code != 207:
        raise ServerError(
            f"{what} {redact_url(url)} answered HTTP {response.status_code}, not 207 Multi-Status"
        )
    try:
        return ElementTree.fromstring(response.content)
    except ElementTree.ParseError as exc:
        raise ServerError(
            f"{what} {redact_url(url)} sent an unreadable multistatus: {exc}"
        ) from None
