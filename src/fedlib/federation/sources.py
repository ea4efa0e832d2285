"""Where metadata comes from: a file or an http(s) URL (MDQ is in :mod:`fedlib.federation.mdq`).

A source only fetches bytes (conditionally); parsing and verification happen in the sans-I/O core
(:func:`fedlib.metadata.document.load_metadata_document`). Backing files are written atomically.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from fedlib._files import open_without_waiting
from fedlib.errors import ConfigurationError
from fedlib.federation.http import FetchError, FetchResult, HTTPFetcher, Validators


class Source(Protocol):
    """Fetches one metadata document."""

    @property
    def description(self) -> str:
        """What to show in logs and status (a path or a URL)."""
        ...

    def fetch(self, validators: Validators | None) -> FetchResult:
        """The document, or ``body=None`` when it did not change since ``validators``.

        Raises:
            FetchError: the source is unreachable or answered badly.
        """
        ...


class FileSource:
    """Metadata in a local file; a change is detected by its size and modification time."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes

    @property
    def description(self) -> str:
        return str(self.path)

    def fetch(self, validators: Validators | None) -> FetchResult:
        # Only a regular file, opened without waiting: a FIFO would make open() wait forever in the refresh
        # thread, a device such as /dev/zero never ends (a FetchError instead).
        try:
            opened = open_without_waiting(str(self.path), pipes=False)
        except ConfigurationError as exc:
            raise FetchError(exc.message) from None
        try:
            with opened as fh:
                stat = os.fstat(fh.fileno())
                tag = f"{stat.st_size}-{stat.st_mtime_ns}"
                if validators is not None and validators.etag == tag:
                    return FetchResult(None, validators, str(self.path), 304)
                if stat.st_size > self.max_bytes:
                    raise FetchError(f"{self.path} is larger than {self.max_bytes} bytes")
                body = fh.read(self.max_bytes + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {self.path}: {exc.strerror}") from None
        if len(body) > self.max_bytes:
            raise FetchError(f"{self.path} is larger than {self.max_bytes} bytes")
        return FetchResult(body, Validators(etag=tag), str(self.path), 200)


class URLSource:
    """Metadata at an http(s) URL, fetched with :class:`HTTPFetcher` (conditional GET)."""

    def __init__(self, url: str, *, fetcher: HTTPFetcher | None = None) -> None:
        self.fetcher = fetcher or HTTPFetcher()
        self.fetcher.check_url(url)
        self.url = url

    @property
    def description(self) -> str:
        return self.url

    def fetch(self, validators: Validators | None) -> FetchResult:
        return self.fetcher.get(self.url, validators=validators)


def source_for(location: str, *, fetcher: HTTPFetcher | None = None) -> Source:
    """A URLSource for ``http(s)://...``, else a FileSource."""
    if location.startswith(("https://", "http://")):
        return URLSource(location, fetcher=fetcher)
    if "://" in location:
        raise ConfigurationError(f"unsupported metadata location {location[:200]!r} (a path or an https URL)")
    return FileSource(location)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never a partial one, and
    the replacement survives a power cut: the file is fsync'd before the rename, its directory after it
    (the rename is an entry of the directory; without that, an OS crash may bring back the old file)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """fsync a directory where the platform allows opening one (POSIX); elsewhere (Windows) the rename is
    as durable as the platform makes it. The file is in place either way: a failure here is not raised."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["FileSource", "Source", "URLSource", "source_for", "write_atomically"]
