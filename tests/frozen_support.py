"""One check for the values ``fedlib._frozen.fast_builder`` builds: the constructor's object in every respect."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest


def assert_same_frozen(built: Any, expected: Any, *, hashable: bool = True, picklable: bool = True) -> None:
    """``built`` is ``expected`` as the constructor made it: type, every field (value and type), equality,
    repr, hash, pickling, ``dataclasses.replace``, and frozen (no field can be set or deleted)."""
    cls = type(expected)
    assert type(built) is cls
    for f in dataclasses.fields(cls):
        assert getattr(built, f.name) == getattr(expected, f.name), f.name
        assert type(getattr(built, f.name)) is type(getattr(expected, f.name)), f.name
    assert built == expected
    assert repr(built) == repr(expected)
    if hashable:
        assert hash(built) == hash(expected)
    if picklable:
        assert pickle.loads(pickle.dumps(built)) == expected  # noqa: S301 - the test's own value
    assert dataclasses.replace(built) == expected
    for f in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, f.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(built, f.name)
