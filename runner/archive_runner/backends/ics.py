"""iCalendar source: an .ics file or an http(s) feed, split into one object per UID."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError, NotFoundError
from ..ical import split_feed
from ..redact import redact_url
from ..window import Window
from .base import SourceRead
from .http import RetryPolicy, check_read, send

# The setting a failed feed read asks the user to check.
URL_SETTING = "--source-url / ARCHIVE_SOURCE_URL"
SECRET_URL_SETTING = (
    "--source-url-file / ARCHIVE_SOURCE_URL_FILE (the feed URL under the key "
    "spec.source.ics.urlSecretKey names in the credentials Secret)"
)


class IcsSource:
    """Reads the whole feed once per run; the window is applied while converting.

    ``secret``: the feed URL is itself a secret (its token in the path or query); it is shown
    (description, errors, every object's href) as scheme://host[:port]/… only."""

    def __init__(
        self,
        location: str,
        client: httpx.Client | None,
        secret: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.location = location
        self.is_url = urlsplit(location).scheme in ("http", "https")
        self.client = client
        self.retry = retry
        self.secret = secret
        self.description = (
            redact_url(location, secret=secret) if self.is_url else str(Path(location))
        )

    @property
    def identity(self) -> str:
        if self.is_url:
            parts = urlsplit(self.location)
            host = f"{(parts.hostname or '').lower()}:{parts.port or ''}"
            return f"ics:{parts.scheme}://{host}{parts.path}?{parts.query}"
        return f"ics:{Path(self.location).resolve()}"

    def fetch(self, window: Window) -> SourceRead:
        # A feed is one document: it is read whole or the read fails; nothing is left out.
        return SourceRead(objects=split_feed(self._read(), self.description))

    def _read(self) -> str:
        if not self.is_url:
            path = Path(self.location)
            try:
                return path.read_bytes().decode("utf-8", errors="replace")
            except FileNotFoundError:
                raise NotFoundError(
                    f"--source-url / ARCHIVE_SOURCE_URL: file {path} not found; check the path"
                ) from None
            except IsADirectoryError:
                raise ConfigError(
                    f"--source-url / ARCHIVE_SOURCE_URL: {path} is a directory; "
                    "point it at an .ics file"
                ) from None
        assert self.client is not None
        # Feeds are often published behind redirects; httpx drops credentials across origins.
        response = send(
            self.client,
            "GET",
            self.location,
            "iCalendar feed",
            secret=self.secret,
            retry=self.retry,
            follow_redirects=True,
        )
        setting = SECRET_URL_SETTING if self.secret else URL_SETTING
        check_read(response, "iCalendar feed", setting, secret=self.secret)
        return response.content.decode(response.encoding or "utf-8", errors="replace")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
