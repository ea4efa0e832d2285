"""A view of a store under a key prefix: how tenants share one backend without sharing keys.

Pending login requests are per tenant and live under the tenant's prefix. Replay entries do not: whether
an assertion was already used is a property of the SP identity it was issued for (its audience), not of
the tenant that received it, so the validation pipeline writes them to the unprefixed store
(:func:`unprefixed`) under a key that names the SP entity ID.
"""

from __future__ import annotations

from datetime import datetime

from fedlib.stores.base import Store, consume_and_add


class PrefixedStore:
    """Every key of ``inner`` seen through ``prefix``: two views with different prefixes never see each
    other's entries. The prefix is length-framed, so no tenant name can be chosen to collide with
    another's keys (``a`` + ``:b:x`` versus ``a:b`` + ``:x``)."""

    def __init__(self, inner: Store, prefix: str) -> None:
        if not prefix:
            raise ValueError("prefix must be non-empty")
        self.inner = inner
        self.prefix = f"{len(prefix)}:{prefix}:"

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        return self.inner.add(self.prefix + key, expires_at=expires_at, now=now, value=value)

    def consume(self, key: str, *, now: datetime) -> str | None:
        return self.inner.consume(self.prefix + key, now=now)

    def consume_and_add(
        self, consume_key: str, add_key: str, *, expires_at: datetime, now: datetime
    ) -> tuple[str | None, bool]:
        """Both keys in this view (see :func:`base_and_prefix` to put one of them outside it)."""
        return consume_and_add(
            self.inner, self.prefix + consume_key, self.prefix + add_key, expires_at=expires_at, now=now
        )

    @property
    def base(self) -> Store:
        """The shared store under every prefix (``inner``, unwrapped through nested views)."""
        return unprefixed(self.inner)

    def close(self) -> None:
        """The inner store is shared: closing a view does not close it."""


def unprefixed(store: Store) -> Store:
    """``store`` without any :class:`PrefixedStore` view around it: the store every tenant shares."""
    while isinstance(store, PrefixedStore):
        store = store.inner
    return store


def base_and_prefix(store: Store) -> tuple[Store, str]:
    """The shared store under ``store`` and the prefix its view adds to a key: ``view.add(k, ...)`` is
    ``base.add(prefix + k, ...)``. How one atomic operation reaches keys both inside a tenant's view and
    outside it (``finish_login`` consumes the tenant's pending request and records the tenant-independent
    replay key with one ``base.consume_and_add(prefix + request_key, replay_key, ...)``)."""
    prefix = ""
    while isinstance(store, PrefixedStore):
        prefix = store.prefix + prefix
        store = store.inner
    return store, prefix


__all__ = ["PrefixedStore", "base_and_prefix", "unprefixed"]
