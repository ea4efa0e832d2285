"""A store in Redis, shared by every process and host that uses the same Redis server and prefix.

Needs the ``redis`` package (``pip install 'fedlib[redis]'``). It is imported when the first
:class:`RedisStore` is created, never when :mod:`fedlib.stores` is imported, so deployments without Redis
do not need the package.

**Semantics.** Exactly those of every other :class:`fedlib.stores.Store`: an entry is live while the
caller's ``now < expires_at``, whatever Redis's own clock says. Each entry is one Redis string holding the
expiry instant (seconds and microseconds since 0001-01-01 UTC, fixed width) followed by the value.
``add`` and ``consume`` each run one Lua script that reads the entry, compares its expiry with the
caller's ``now`` and writes or deletes it; Redis runs a script without interleaving any other command,
so both are atomic across every client of the server. ``consume_and_add`` (a login: consume the pending
request, record the replay key) is one script over both keys, so one round trip (``EVALSHA``; the source
is sent only when the server does not have it yet); it reads and checks both entries before writing
anything, because Redis does not undo the writes of a script that fails halfway. The scripts never read
the server clock, so they are deterministic and replicate safely.

**Garbage collection.** Each entry is also written with a Redis TTL (``PX``) of
``(expires_at - now) + clock_tolerance``, in milliseconds rounded up, so Redis deletes it on its own some
time after it stopped being live. The TTL only reclaims memory; it never decides whether an entry is live.
``clock_tolerance`` (default one hour, the largest clock skew fedlib allows) must be at least the
difference between the clocks of the processes sharing the store: then a caller whose clock is behind the
adding caller's still finds every entry it considers live (the promise of :mod:`fedlib.stores.base`).

The TTL is *relative* (``PX``, counted down by the server from the moment of the write), not an absolute
``PEXPIREAT expires_at + clock_tolerance``: an absolute time would be read on the Redis server's clock,
whose offset from the workers' clocks nothing bounds (it is no party to the configured skew), so a server
clock ahead of the workers would delete entries early. A relative TTL depends only on the adding
worker's clock and the server's *rate*: the entry outlives, in real time, the moment the adding
worker's clock reaches ``expires_at + clock_tolerance``, hence any worker up to ``clock_tolerance`` behind
reaching ``expires_at``. (A step of the server's wall clock, which Redis uses to store expiry, shifts the
deletion by the step: keep the server NTP-synchronised too.)

**Keys.** ``{<prefix>}:<key>`` (UTF-8). The prefix separates tenants or applications sharing one server,
and the braces make it a Redis Cluster hash tag: every key of one prefix maps to the same cluster slot.
A prefix may not contain ``{`` or ``}``, which keeps the mapping from (prefix, key) to Redis key
one-to-one.

**Failures.** Every error the ``redis`` package raises (connection refused or reset, timeouts,
authentication, a ``WRONGTYPE`` or script error, ...) and every socket error becomes
:class:`fedlib.errors.StoreError`: when Redis cannot answer, nothing is accepted (fail closed). Socket
and connect timeouts are set by default, and redis-py's automatic retries are disabled: a retried
script whose first reply was lost could report a first use as a replay (or a consumed request as
unknown), so a failed call is reported as a failure instead.
"""

from __future__ import annotations

import collections
import hashlib
import math
import os
import threading
import types
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, cast
from urllib.parse import urlsplit

from fedlib.errors import ConfigurationError, StoreError
from fedlib.stores.base import (
    DEFAULT_CLOCK_TOLERANCE,
    check_add_arguments,
    check_clock_tolerance,
    check_consume_and_add_arguments,
    check_key,
    check_value,
    require_aware,
)

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
# An entry starts with its expiry: 12 digits of whole seconds since _EPOCH, then 6 digits of microseconds.
_HEADER_LEN = 18
_MAX_PREFIX_LEN = 256

# Both scripts: KEYS[1] = the entry's key, ARGV[1] / ARGV[2] = the caller's now (seconds, microseconds).
# Lua numbers are doubles; seconds since year 1 (< 10^12) and microseconds are exact, whole microsecond
# counts (up to 3.2 * 10^17) would not be, hence the pair.
# live(entry): true if the entry's expiry header is after the caller's now, false if not, nil if the entry
# is not one fedlib wrote (corrupt). Shared by every script.
_LUA_LIVE_FUNCTION = """
local function live(entry)
  local s, u = string.match(entry, '^(%d%d%d%d%d%d%d%d%d%d%d%d)(%d%d%d%d%d%d)')
  if not s then
    return nil
  end
  local now_s, exp_s = tonumber(ARGV[1]), tonumber(s)
  return now_s < exp_s or (now_s == exp_s and tonumber(ARGV[2]) < tonumber(u))
end
"""

_LUA_LIVE = (
    _LUA_LIVE_FUNCTION
    + """
local entry = redis.call('GET', KEYS[1])
local is_live = false
if entry then
  is_live = live(entry)
  if is_live == nil then
    return redis.error_reply('fedlib: corrupt store entry')
  end
end
"""
)

# ARGV[3] = the new entry (expiry header + value), ARGV[4] = its TTL in milliseconds. Returns 1 if written.
_LUA_ADD = (
    _LUA_LIVE
    + """
if is_live then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
"""
)

# Returns the value of a live entry (deleting it), or nil. An expired entry is left to its TTL, as the
# other backends leave it to their purge: a caller whose clock is behind may still consider it live.
_LUA_CONSUME = (
    _LUA_LIVE
    + """
if not is_live then
  return false
end
redis.call('DEL', KEYS[1])
return string.sub(entry, 19)
"""
)

# KEYS[1] = the entry to consume, KEYS[2] = the entry to add (same prefix, hence the same Cluster slot);
# ARGV as for add. Both entries are read and checked before anything is written: Redis does not roll a
# script back when it fails halfway, so an error (corrupt entry, wrong type) must come before any write.
# Returns nil (nothing consumed, nothing written), or {value, 1 if the add happened else 0}.
_LUA_CONSUME_AND_ADD = (
    _LUA_LIVE_FUNCTION
    + """
local consumed = redis.call('GET', KEYS[1])
if not consumed then
  return false
end
local consumed_live = live(consumed)
if consumed_live == nil then
  return redis.error_reply('fedlib: corrupt store entry')
end
if not consumed_live then
  return false
end
local existing = redis.call('GET', KEYS[2])
local taken = false
if existing then
  taken = live(existing)
  if taken == nil then
    return redis.error_reply('fedlib: corrupt store entry')
  end
end
redis.call('DEL', KEYS[1])
if taken then
  return {string.sub(consumed, 19), 0}
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return {string.sub(consumed, 19), 1}
"""
)


class _Script:
    """A Lua script and its SHA-1 (the name EVALSHA runs it by once the server has it cached)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()
        self._sha_bulk = b"$7\r\nEVALSHA\r\n$40\r\n" + self.sha.encode("ascii") + b"\r\n"

    def evalsha_command(self, keys: tuple[bytes, ...], args: tuple[bytes, ...]) -> bytes:
        """``EVALSHA <sha> <numkeys> <keys...> <args...>`` as the bytes sent on the wire (a RESP array of bulk
        strings, each length-prefixed, hence binary-safe). Hand-written because redis-py's packer encodes
        every argument through a Python generator (~10 us per login on this machine, bench/stores.py) and
        this command only ever carries bytes; tests/unit/stores/test_redis_connections.py holds it to
        redis-py's own packing."""
        numkeys = b"%d" % len(keys)
        parts = (numkeys, *keys, *args)
        return b"".join(
            (
                b"*%d\r\n" % (len(parts) + 2),
                self._sha_bulk,
                *[b"$%d\r\n%b\r\n" % (len(part), part) for part in parts],
            )
        )


_ADD = _Script(_LUA_ADD)
_CONSUME = _Script(_LUA_CONSUME)
_CONSUME_AND_ADD = _Script(_LUA_CONSUME_AND_ADD)


class _Client(Protocol):
    """The part of a ``redis.Redis`` (or ``redis.cluster.RedisCluster``) client that RedisStore uses."""

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: bytes | str) -> object: ...

    def eval(self, script: str, numkeys: int, *keys_and_args: bytes | str) -> object: ...

    def close(self) -> None: ...


class _RedisModules:
    """The pieces of the ``redis`` package RedisStore needs, imported on first use."""

    def __init__(self) -> None:
        try:
            # Lazy: importing fedlib.stores must not need the optional extra.
            import redis as package
            import redis.backoff as backoff
            import redis.exceptions as exceptions
            import redis.retry as retry
        except ImportError as exc:
            raise ConfigurationError(
                "RedisStore needs the redis package, which is not installed: pip install 'fedlib[redis]'",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        self.package: types.ModuleType = package
        self.redis_error = cast(type[Exception], exceptions.RedisError)
        self.no_script_error = cast(type[Exception], exceptions.NoScriptError)
        self.response_error = cast(type[Exception], exceptions.ResponseError)
        self.retry: types.ModuleType = retry
        self.backoff: types.ModuleType = backoff

    def client_from_url(self, url: str, *, timeout: float) -> _Client:
        """A new client with its own connection pool: socket timeouts set, automatic retries off."""
        no_retry = self.retry.Retry(self.backoff.NoBackoff(), 0)
        return cast(
            _Client,
            self.package.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=no_retry,
            ),
        )


_modules: _RedisModules | None = None
_modules_lock = threading.Lock()


def _redis_modules() -> _RedisModules:
    global _modules
    with _modules_lock:
        if _modules is None:
            _modules = _RedisModules()
        return _modules


class RedisStore:
    """A :class:`fedlib.stores.Store` kept in Redis (or a Redis-compatible server such as Valkey).

    One instance may be shared by any number of threads (redis-py pools its connections, and reconnects
    in a forked child); any number of instances, in any number of processes and hosts, may share one
    server. Instances with the same ``prefix`` see the same entries; instances with different prefixes
    never see each other's. The constructor does not contact the server: the first ``add`` or ``consume``
    does, and raises StoreError if it cannot.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, or ``rediss://...`` for TLS (the server
            certificate and host name are verified). No query string: use the keyword arguments, or
            :meth:`from_client` for other client options.
        prefix: The namespace of this store's keys (a tenant or application name). Non-empty, at most
            256 characters, no ``{``, ``}``, whitespace or control characters.
        timeout: Seconds to wait for a connection and for each reply before failing with StoreError.
        clock_tolerance: How long after an entry's ``expires_at`` Redis keeps it: at least the largest
            difference between the clocks of the processes sharing the store (see the module
            documentation).
        gc_grace: The former name of ``clock_tolerance``, still accepted (not both).

    Raises:
        fedlib.errors.ConfigurationError: The ``redis`` package is missing, or the URL is malformed.
        ValueError: ``prefix``, ``timeout`` or ``clock_tolerance`` is invalid, or both ``clock_tolerance``
            and ``gc_grace`` are given.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "fedlib",
        timeout: float = 2.0,
        clock_tolerance: timedelta | None = None,
        gc_grace: timedelta | None = None,
    ) -> None:
        location = _check_url(url)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError("timeout must be a positive number of seconds (a Redis call must not hang)")
        self._setup(prefix, _tolerance(clock_tolerance, gc_grace), location)
        modules = _redis_modules()
        try:
            # redis-py only knows lower-case schemes; the rest of the URL is passed unchanged
            scheme = location.partition(":")[0]
            self._client = modules.client_from_url(scheme + url[len(scheme) :], timeout=float(timeout))
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"invalid Redis store URL {location!r}: {exc}") from None
        self._owns_client = True
        self._errors = (modules.redis_error, OSError)
        self._no_script_error = modules.no_script_error
        self._response_error = modules.response_error
        # The client is ours, a plain redis.Redis: calls use its pool's connections directly (_call).
        self._pool = getattr(self._client, "connection_pool", None)

    @classmethod
    def from_client(
        cls,
        client: Any,
        *,
        prefix: str = "fedlib",
        clock_tolerance: timedelta | None = None,
        gc_grace: timedelta | None = None,
    ) -> RedisStore:
        """A store on an existing client, for options the URL form does not offer.

        For example a ``redis.cluster.RedisCluster``, a Sentinel-managed master, or TLS with a private CA.
        Configure the client with socket timeouts and without automatic retries (see the module
        documentation). :meth:`close` does not close a client passed in here; its owner does.

        Args:
            client: A ``redis.Redis``-compatible client (``decode_responses`` must be off).
            prefix: As for the constructor.
            clock_tolerance: As for the constructor.
            gc_grace: As for the constructor.

        Returns:
            A new store using ``client``.

        Raises:
            fedlib.errors.ConfigurationError: The ``redis`` package is missing.
            ValueError: ``prefix`` or ``clock_tolerance`` is invalid, or both it and ``gc_grace`` are given.
        """
        tolerance = _tolerance(clock_tolerance, gc_grace)
        modules = _redis_modules()
        store = cls.__new__(cls)
        store._setup(prefix, tolerance, f"{type(client).__name__} client")
        store._client = cast(_Client, client)
        store._owns_client = False
        store._errors = (modules.redis_error, OSError)
        store._no_script_error = modules.no_script_error
        store._response_error = modules.response_error
        store._pool = None  # someone else's client (maybe a cluster): used through its own methods
        return store

    def _setup(self, prefix: str, tolerance: timedelta, location: str) -> None:
        _check_prefix(prefix)
        self._prefix = prefix
        self._key_head = b"{" + prefix.encode("utf-8") + b"}:"
        self._grace_ms = math.ceil(tolerance / timedelta(milliseconds=1))
        self._location = location
        self._closed = False
        self._idle: collections.deque[Any] = collections.deque()
        self._pid = os.getpid()

    @property
    def prefix(self) -> str:
        """The namespace of this store's keys."""
        return self._prefix

    def redis_key(self, key: str) -> bytes:
        """The Redis key that holds the entry for ``key``: ``{prefix}:key`` in UTF-8.

        Raises:
            TypeError: ``key`` is not a string.
            ValueError: ``key`` is empty or not encodable as UTF-8.
        """
        return self._key_head + check_key(key).encode("utf-8")

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<RedisStore {self._location} prefix={self._prefix!r}{state}>"

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        """:meth:`Store.add <fedlib.stores.Store.add>`, atomic for every client of the server. StoreError: closed or
        Redis failed (nothing can be concluded).
        """
        # check_key (redis_key's), check_value and check_add_times in one call, the common arguments decided
        # inline (issue #9: ~1.5 us less per login start); the key is then a checked str, encoded as redis_key does.
        expires, current = check_add_arguments(key, value, expires_at, now)
        redis_key = self._key_head + key.encode("utf-8")
        exp_s, exp_us = _instant(expires)
        now_s, now_us = _instant(current)
        entry = f"{exp_s:012d}{exp_us:06d}".encode("ascii") + value.encode("utf-8")
        ttl_ms = math.ceil((expires - current) / _ONE_MS) + self._grace_ms
        result = self._run("add", _ADD, redis_key, b"%d" % now_s, b"%d" % now_us, entry, b"%d" % ttl_ms)
        if isinstance(result, int) and not isinstance(result, bool) and result in (0, 1):
            return result == 1
        raise StoreError(
            f"the Redis replay store {self._location} gave an unexpected reply to add",
            detail=f"reply of type {type(result).__name__}",
        )

    def consume(self, key: str, *, now: datetime) -> str | None:
        """:meth:`Store.consume <fedlib.stores.Store.consume>`, atomic for every client of the server. StoreError:
        closed or Redis failed (nothing consumed, or the outcome is unknown; either way nothing may be accepted).
        """
        redis_key = self.redis_key(key)
        now_s, now_us = _instant(require_aware(now, "now"))
        result = self._run("consume", _CONSUME, redis_key, b"%d" % now_s, b"%d" % now_us)
        if result is None:
            return None
        if isinstance(result, bytes):
            try:
                return result.decode("utf-8")
            except UnicodeDecodeError:
                pass
        raise StoreError(
            f"the Redis replay store {self._location} returned a corrupt entry",
            detail=f"reply of type {type(result).__name__}",
        )

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        """:meth:`AtomicStore.consume_and_add <fedlib.stores.base.AtomicStore.consume_and_add>`: one Lua script
        (one round trip), atomic for every client of the server. StoreError: closed or Redis failed (nothing
        consumed, or the outcome is unknown; either way nothing may be accepted).
        """
        # check_distinct_keys (which checks both keys as redis_key would again) and check_add_times in one call,
        # the common arguments decided inline (issue #9: ~4 us less per login); then redis_key's encoding.
        expires, current = check_consume_and_add_arguments(consume_key, add_key, expires_at, now)
        head = self._key_head
        consume_redis_key, add_redis_key = head + consume_key.encode("utf-8"), head + add_key.encode("utf-8")
        exp_s, exp_us = _instant(expires)
        now_s, now_us = _instant(current)
        entry = f"{exp_s:012d}{exp_us:06d}".encode("ascii")
        ttl_ms = math.ceil((expires - current) / _ONE_MS) + self._grace_ms
        keys = (consume_redis_key, add_redis_key)
        result = self._run(
            "consume_and_add", _CONSUME_AND_ADD, keys, b"%d" % now_s, b"%d" % now_us, entry, b"%d" % ttl_ms
        )
        if result is None:
            return None, False
        if isinstance(result, list) and len(result) == 2 and isinstance(result[0], bytes) and result[1] in (0, 1):
            try:
                return result[0].decode("utf-8"), result[1] == 1
            except UnicodeDecodeError:
                pass
        raise StoreError(
            f"the Redis replay store {self._location} returned a corrupt entry",
            detail=f"reply of type {type(result).__name__}",
        )

    def close(self) -> None:
        """Close the connections (unless the client came from :meth:`from_client`).

        Later calls to ``add`` / ``consume`` raise StoreError; closing twice is fine.

        Raises:
            fedlib.errors.StoreError: Closing the connection pool failed.
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            try:
                self._client.close()  # disconnects every connection of its pool, those kept in _idle too
            except self._errors as exc:
                raise self._error("close", exc) from exc
            finally:
                self._idle.clear()

    # -- internals ---------------------------------------------------------------------------------------

    def _run(self, operation: str, script: _Script, key: bytes | tuple[bytes, ...], *args: bytes) -> object:
        """Run ``script`` on ``key`` by its SHA-1, sending its source if the server does not have it yet.

        After the first call (or a server restart / SCRIPT FLUSH) the server keeps the script, so each
        later call sends only its SHA-1.
        """
        if self._closed:
            raise StoreError(f"the Redis replay store {self._location} is closed")
        keys = (key,) if isinstance(key, bytes) else key
        try:
            if self._pool is not None:
                return self._call(self._pool, script, keys, args)
            try:
                return self._client.evalsha(script.sha, len(keys), *keys, *args)
            except self._no_script_error:
                return self._client.eval(script.source, len(keys), *keys, *args)
        except self._errors as exc:
            raise self._error(operation, exc) from exc

    def _call(self, pool: Any, script: _Script, keys: tuple[bytes, ...], args: tuple[bytes, ...]) -> object:
        """``EVALSHA`` (``EVAL`` if the server lacks the script) on a connection of the client's pool that this
        store keeps between calls: redis-py's per-command pool checkout, checks and wrappers cost about as
        much as the round trip itself on loopback (bench/stores.py).

        A connection is taken from ``_idle`` (a new one from the pool when none is idle, so there are as many
        as concurrent calls, never more; one the server closed while idle is reconnected first) and put back
        after a reply, error replies included (the reply was read whole: the connection is in step). After
        anything else (timeout, reset, interruption) it is disconnected and given back to the pool, never
        reused: no later call can read a stale reply. In a forked child the parent's connections are dropped
        unused (the pool then opens the child's own).
        """
        if self._pid != os.getpid():
            self._idle = collections.deque()
            self._pid = os.getpid()
        idle = self._idle
        try:
            conn = idle.pop()
        except IndexError:
            conn = pool.get_connection()
            was_idle = False
        else:
            was_idle = True
        try:
            if was_idle and self._stale(conn):
                # Readable while idle: the server closed it (a restart, its idle timeout) or sent something
                # unasked. Reconnect, as redis-py's pool does on checkout, rather than fail this call.
                conn.disconnect()
                conn.connect()
            try:
                conn.send_packed_command((script.evalsha_command(keys, args),))  # a sequence of chunks
                result: object = conn.read_response()
            except self._no_script_error:
                conn.send_command("EVAL", script.source, len(keys), *keys, *args)
                result = conn.read_response()
        except self._response_error:
            idle.append(conn)
            raise
        except BaseException:
            conn.disconnect()
            pool.release(conn)
            raise
        idle.append(conn)
        return result

    def _stale(self, conn: Any) -> bool:
        """Whether an idle connection has something to read (unasked data, or the end of the stream)."""
        try:
            return bool(conn.can_read())
        except self._errors:  # redis-py reports the end of the stream as ConnectionError
            return True

    def _error(self, operation: str, exc: BaseException) -> StoreError:
        reason = str(exc).rstrip(".") or type(exc).__name__
        return StoreError(
            f"the Redis replay store {self._location} failed during {operation}: {reason}; "
            "refusing to accept messages until it works (fail closed)",
            detail=f"{type(exc).__name__}: {exc}",
        )


def _tolerance(clock_tolerance: timedelta | None, gc_grace: timedelta | None) -> timedelta:
    """The checked clock tolerance from the constructor's two spellings of it."""
    if clock_tolerance is not None and gc_grace is not None:
        raise ValueError("give clock_tolerance or its former name gc_grace, not both")
    if gc_grace is not None:
        return check_clock_tolerance(gc_grace, "gc_grace")
    if clock_tolerance is not None:
        return check_clock_tolerance(clock_tolerance)
    return DEFAULT_CLOCK_TOLERANCE


_ONE_MS: Final = timedelta(milliseconds=1)


def _instant(value: datetime) -> tuple[int, int]:
    """An aware UTC datetime as (whole seconds, microseconds) since 0001-01-01 UTC."""
    delta = value - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds


def _check_prefix(prefix: str) -> None:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    if not prefix or len(prefix) > _MAX_PREFIX_LEN:
        raise ValueError(f"prefix must be 1 to {_MAX_PREFIX_LEN} characters")
    if "{" in prefix or "}" in prefix:
        raise ValueError("prefix must not contain '{' or '}' (it becomes the key's Redis Cluster hash tag)")
    if not prefix.isprintable() or any(ch.isspace() for ch in prefix):
        raise ValueError("prefix must not contain whitespace or control characters")
    check_value(prefix)  # UTF-8 encodable


def _check_url(url: str) -> str:
    """Check a ``redis://`` / ``rediss://`` URL; return it without credentials, for messages."""
    if not isinstance(url, str):
        raise ConfigurationError(f"Redis store URL must be a string, not {type(url).__name__}")
    if url != url.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ConfigurationError("Redis store URL contains whitespace at an end or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis store URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss") or not url[len(scheme) :].startswith("://"):
        raise ConfigurationError("a Redis store URL starts with redis:// or rediss:// (TLS)")
    host = parts.hostname
    if not host:
        raise ConfigurationError("a Redis store URL needs a host: redis://host[:port][/db]")
    try:
        host.encode("idna")  # what the socket layer does with it: an empty or over-long label fails there
    except UnicodeError:
        raise ConfigurationError(
            f"the host of the Redis store URL is not a host name (an empty or over-63-character label): {host[:100]!r}"
        ) from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigurationError(
            "RedisStore takes no query string or fragment in its URL; pass prefix= and timeout= as "
            "arguments, or build a client and use RedisStore.from_client",
        )
    db = parts.path[1:] if parts.path.startswith("/") else parts.path
    if db and not (db.isascii() and db.isdigit()):
        raise ConfigurationError(f"Redis store URL path must be a database number (/0, /1, ...), not {parts.path!r}")
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}:{port or 6379}/{int(db) if db else 0}"


__all__ = ["RedisStore"]
