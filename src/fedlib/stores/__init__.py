"""Request-ID and replay stores: where fedlib remembers which IDs it has already seen.

* :class:`Store` - the protocol every backend implements (atomic ``add`` / ``consume``, fail closed), and
  ``consume_and_add`` (a login's one operation; :class:`fedlib.stores.base.AtomicStore`).
* :class:`MemoryStore` - in-process, for tests and single-process deployments.
* :class:`SQLiteStore` - an SQLite file shared safely by threads and processes.
* :class:`RedisStore` - a Redis server shared by any number of processes and hosts (``fedlib[redis]``;
  the ``redis`` package is imported only when a RedisStore is created).
* :func:`open_store` - open one of them from a URL such as ``sqlite:////var/lib/fedlib/replay.db`` or
  ``redis://127.0.0.1:6379/0?prefix=myapp``.
"""

from __future__ import annotations

from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.stores.redis import RedisStore
from fedlib.stores.sqlite import SQLiteStore
from fedlib.stores.url import open_store

__all__ = ["MemoryStore", "RedisStore", "SQLiteStore", "Store", "open_store"]
