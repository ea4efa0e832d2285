"""A view of a store under a key prefix: how tenants share one backend without sharing keys.

Pending login requests are per tenant and live under the tenant's prefix. Replay entries do not: whether
an assertion was already used is a property of the SP identity it was issued for (its audience), not of
the tenant that received it, so the validation pipeline writes them to the unprefixed store
(:func:`unprefixed`) under a key that names the SP entity ID.
"""

from __future__ import annotations

from datetime import datetime

from fedlib.stores.base import Store


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


__all__ = ["PrefixedStore", "unprefixed"]
