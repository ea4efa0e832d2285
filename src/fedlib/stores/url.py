"""Open a store from a URL (the form used by the CLI's ``--store`` option and by configuration files).

Accepted URLs (the scheme is case-insensitive; nothing else is):

``memory://``
    A new :class:`~fedlib.stores.MemoryStore`, private to this process.

``sqlite:///:memory:``
    A new in-memory :class:`~fedlib.stores.SQLiteStore`, private to this process.

``sqlite:///<path>``
    An :class:`~fedlib.stores.SQLiteStore` on a file. The path is what follows ``sqlite://``, used verbatim
    (no percent-decoding), so it is absolute unless it explicitly starts with ``./`` or ``../``:

    * ``sqlite:///var/lib/fedlib/replay.db`` (three slashes) opens ``/var/lib/fedlib/replay.db``. This is
      the form in fedlib's own documentation. **SQLAlchemy reads the same URL as the relative path
      ``var/lib/fedlib/replay.db``; fedlib deliberately does not**, because a path relative to the working
      directory can silently name a different file in each worker process, and a replay store that is
      not shared does not stop replays.
    * ``sqlite:////var/lib/fedlib/replay.db`` (four slashes, SQLAlchemy's absolute form) opens the same
      file: one leading ``/`` of the path is dropped. This is what ``"sqlite:///" + absolute_path``
      produces, e.g. the interop runner's ``sqlite:////tmp/fedlib-interop-xyz/replay.db`` opens
      ``/tmp/fedlib-interop-xyz/replay.db``.
    * ``sqlite:///./replay.db`` or ``sqlite:///../data/replay.db`` (the path after the third slash starts
      with ``./`` or ``../``) is relative to the current working directory, as in SQLAlchemy. It is
      joined to the working directory once, when the URL is opened, so the store keeps using the same
      file if the process changes directory later.

    On Windows, ``sqlite:///C:/data/replay.db`` opens ``C:/data/replay.db``.

    Refused: five or more slashes, ``sqlite://`` with a host (``sqlite://host/x.db``), an empty path, a
    path ending in ``/``, a query string or a fragment.

``redis://`` / ``rediss://``
    Refused for now: Redis support arrives with the ``fedlib[redis]`` extra.

Any other URL raises :class:`~fedlib.errors.ConfigurationError`.
"""

from __future__ import annotations

import os

from fedlib.errors import ConfigurationError
from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.stores.sqlite import SQLiteStore

_SUPPORTED = "memory://, sqlite:///absolute/path.db, sqlite:///./relative/path.db or sqlite:///:memory:"


def open_store(url: str) -> Store:
    """Open the store a URL names.

    See the module documentation for the exact rules; in short ``memory://``, ``sqlite:///:memory:``,
    ``sqlite:///absolute/path.db`` (or SQLAlchemy's ``sqlite:////absolute/path.db``, the same file) and
    ``sqlite:///./relative/path.db``. Unlike SQLAlchemy, ``sqlite:///x.db`` means ``/x.db``.

    Args:
        url: The store URL.

    Returns:
        A new, open store. The caller owns it and should :meth:`~fedlib.stores.Store.close` it.

    Raises:
        fedlib.errors.ConfigurationError: The URL is malformed, uses an unknown scheme, or names a backend
            that is not available (Redis).
        fedlib.errors.StoreError: The URL is valid but the database cannot be opened (for example its
            directory does not exist, or the file is not an SQLite database).
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"store URL must be a string, not {type(url).__name__}")
    if url != url.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ConfigurationError("store URL contains whitespace at an end or control characters")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"store URL {url!r} has no scheme; use {_SUPPORTED}")
    scheme = scheme.lower()
    if scheme == "memory":
        if rest:
            raise ConfigurationError(f"store URL {url!r}: memory:// takes no host, path or options")
        return MemoryStore()
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(url, rest))
    if scheme in {"redis", "rediss"} or scheme.startswith("redis+"):
        raise ConfigurationError(
            "Redis stores are not supported yet: Redis support arrives with the fedlib[redis] extra "
            f"(a later release); use {_SUPPORTED}",
        )
    raise ConfigurationError(f"store URL {url!r} has an unknown scheme {scheme!r}; use {_SUPPORTED}")


def _sqlite_path(url: str, rest: str) -> str:
    """The database path of an ``sqlite://`` URL, given what follows ``sqlite://``."""
    if "?" in rest or "#" in rest:
        raise ConfigurationError(f"store URL {url!r}: sqlite URLs take no query string or fragment")
    if not rest.startswith("/"):
        raise ConfigurationError(
            f"store URL {url!r}: sqlite URLs have no host; use sqlite:///absolute/path.db "
            "or sqlite:///./relative/path.db",
        )
    if rest == "/:memory:":
        return ":memory:"
    if rest.startswith("///"):
        raise ConfigurationError(
            f"store URL {url!r}: too many slashes; an absolute path is sqlite:///absolute/path.db",
        )
    if rest.startswith(("/./", "/../")):
        path = os.path.join(os.getcwd(), rest[1:])
    elif rest.startswith("//"):  # SQLAlchemy's four-slash absolute form
        path = rest[1:]
    else:
        path = rest
    if path.endswith(("/", "/.", "/..")):
        raise ConfigurationError(f"store URL {url!r} names a directory, not a database file")
    if os.name == "nt" and len(path) > 3 and path[0] == "/" and path[2] == ":":  # pragma: no cover
        path = path[1:]  # sqlite:///C:/data/replay.db
    return path


__all__ = ["open_store"]
