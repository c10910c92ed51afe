"""Directory destination: one .ics file per archived object, written atomically.

A new file is written to a temporary name and hard-linked into place (link fails if the name
exists: an atomic "create if absent"); an update is an atomic rename over the old file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import ConfigError, NotFoundError
from ..window import Window
from .base import ArchivedCopy, ArchiveRead, PreconditionFailed, WriteError


class DirectoryDestination:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)

    def _check(self) -> None:
        if not self.path.exists():
            raise NotFoundError(
                f"--destination-path / ARCHIVE_DESTINATION_PATH: {self.path} does not exist; "
                "create it or mount the archive volume there"
            )
        if not self.path.is_dir():
            raise ConfigError(
                f"--destination-path / ARCHIVE_DESTINATION_PATH: {self.path} is not a directory; "
                "point it at the archive directory"
            )

    def load(self, window: Window) -> ArchiveRead:
        """Every copy in the directory (a superset of the window; planning filters)."""
        self._check()
        copies = {}
        for entry in os.scandir(self.path):
            if entry.name.endswith(".ics") and entry.is_file():
                copy = self.get(entry.name)
                if copy is not None:
                    copies[entry.name] = copy
        return ArchiveRead(copies=copies)

    def get(self, name: str) -> ArchivedCopy | None:
        try:
            data = (self.path / name).read_bytes()
        except FileNotFoundError:
            return None
        return ArchivedCopy(name=name, etag=None, text=data.decode("utf-8", errors="replace"))

    def create(self, name: str, data: bytes) -> None:
        temporary = self._write_temporary(data)
        try:
            os.link(temporary, self.path / name)
        except FileExistsError:
            raise PreconditionFailed(f"{name} already exists") from None
        except OSError as exc:
            raise WriteError(f"cannot create {name}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        temporary = self._write_temporary(data)
        try:
            os.replace(temporary, self.path / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise WriteError(f"cannot replace {name}: {exc.strerror}") from None

    def _write_temporary(self, data: bytes) -> str:
        try:
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=self.path)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise WriteError(f"cannot write to {self.path}: {exc.strerror}") from None
        return temporary

    def close(self) -> None:
        pass
