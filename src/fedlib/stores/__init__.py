"""Request-ID and replay stores: where fedlib remembers which IDs it has already seen.

* :class:`Store` - the protocol every backend implements (atomic ``add`` / ``consume``, fail closed).
* :class:`MemoryStore` - in-process, for tests and single-process deployments.
* :class:`SQLiteStore` - an SQLite file shared safely by threads and processes.
* :func:`open_store` - open one of them from a URL such as ``sqlite:////var/lib/fedlib/replay.db``.
"""

from __future__ import annotations

from fedlib.stores.base import Store
from fedlib.stores.memory import MemoryStore
from fedlib.stores.sqlite import SQLiteStore
from fedlib.stores.url import open_store

__all__ = ["MemoryStore", "SQLiteStore", "Store", "open_store"]
