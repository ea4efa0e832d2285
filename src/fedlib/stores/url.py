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

``redis://[[user]:password@]host[:port][/db][?prefix=<prefix>&timeout=<seconds>]``
    A :class:`~fedlib.stores.RedisStore` (needs the ``fedlib[redis]`` extra). ``rediss://`` is the same
    over TLS, with the server certificate and host name verified. The port defaults to 6379 and the
    database to 0. Two query parameters are accepted, each at most once: ``prefix`` (the key namespace,
    default ``fedlib``; percent-decoded) and ``timeout`` (connect and reply timeout in seconds, default 2).
    Any other parameter, a fragment, or a path that is not a database number is refused; for other
    client options build a ``redis.Redis`` client and use :meth:`~fedlib.stores.RedisStore.from_client`.
    Opening the store does not contact the server; the first ``add`` or ``consume`` does.

Any other URL raises :class:`~fedlib.errors.ConfigurationError`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote

from fedlib.errors import ConfigurationError
from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.stores.redis import RedisStore
from fedlib.stores.sqlite import SQLiteStore

_SUPPORTED = (
    "memory://, sqlite:///absolute/path.db, sqlite:///./relative/path.db, sqlite:///:memory:, "
    "redis://host:port/db?prefix=name or rediss://host:port/db?prefix=name"
)
_REDIS_PARAMS = ("prefix", "timeout")


def open_store(url: str) -> Store:
    """Open the store a URL names.

    See the module documentation for the exact rules; in short ``memory://``, ``sqlite:///:memory:``,
    ``sqlite:///absolute/path.db`` (or SQLAlchemy's ``sqlite:////absolute/path.db``, the same file) and
    ``sqlite:///./relative/path.db``, ``redis://host:port/db?prefix=name`` and ``rediss://...`` (TLS).
    Unlike SQLAlchemy, ``sqlite:///x.db`` means ``/x.db``.

    Args:
        url: The store URL.

    Returns:
        A new, open store. The caller owns it and should :meth:`~fedlib.stores.Store.close` it.

    Raises:
        fedlib.errors.ConfigurationError: The URL is malformed, uses an unknown scheme, or names a backend
            that is not installed (Redis without the ``redis`` package).
        fedlib.errors.StoreError: The URL is valid but the database cannot be opened (for example its
            directory does not exist, or the file is not an SQLite database).
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"store URL must be a string, not {type(url).__name__}")
    if url != url.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ConfigurationError("store URL contains whitespace at an end or control characters")
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. from a non-UTF-8 command line)
        raise ConfigurationError("store URL is not valid text (it holds a lone surrogate)") from None
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"store URL {_redacted(url)!r} has no scheme; use {_SUPPORTED}")
    scheme = scheme.lower()
    if scheme == "memory":
        if rest:
            raise ConfigurationError(f"store URL {url!r}: memory:// takes no host, path or options")
        return MemoryStore()
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(url, rest))
    if scheme in {"redis", "rediss"}:
        return _redis_store(url)
    raise ConfigurationError(f"store URL {_redacted(url)!r} has an unknown scheme {scheme!r}; use {_SUPPORTED}")


def _redis_store(url: str) -> Store:
    """A RedisStore for a ``redis://`` or ``rediss://`` URL, with fedlib's query parameters taken out."""
    base, _, query = url.partition("?")
    shown = _redacted(url)
    if "#" in url:
        raise ConfigurationError(f"store URL {shown!r}: redis URLs take no fragment")
    options: dict[str, str] = {}
    if query:
        for item in query.split("&"):
            name, sep, raw = item.partition("=")
            if name not in _REDIS_PARAMS or not sep:
                raise ConfigurationError(
                    f"store URL {shown!r}: unknown or malformed query parameter {name!r}; "
                    f"redis URLs accept {' and '.join(p + '=' for p in _REDIS_PARAMS)}",
                )
            if name in options:
                raise ConfigurationError(f"store URL {shown!r}: {name} is given twice")
            try:
                options[name] = unquote(raw, errors="strict")
            except UnicodeDecodeError:
                raise ConfigurationError(f"store URL {shown!r}: {name} is not valid percent-encoded UTF-8") from None
    kwargs: dict[str, Any] = {}
    if "prefix" in options:
        kwargs["prefix"] = options["prefix"]
    if "timeout" in options:
        try:
            kwargs["timeout"] = float(options["timeout"])
        except ValueError:
            raise ConfigurationError(f"store URL {shown!r}: timeout must be a number of seconds") from None
    try:
        return RedisStore(base, **kwargs)
    except (ValueError, TypeError) as exc:  # ConfigurationError is a ValueError too
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"store URL {shown!r}: {exc}") from None


def _redacted(url: str) -> str:
    """``url`` with any user information (a password) replaced by ``***``, for error messages."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc = rest[:end]
    if "@" not in netloc:
        return url
    return f"{scheme}{sep}***@{netloc.rpartition('@')[2]}{rest[end:]}"


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
