"""``_PendingLogin.decode`` reads what ``encode`` wrote with json's C scanner instead of ``json.loads``; anything
else goes through ``json.loads``. Same pending request, or the same StoreError, as the previous decode (kept
here as the reference: ``json.loads`` first, then the same checks)."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedlib.authn_context import AuthnContextRequirement
from fedlib.errors import StoreError
from fedlib.sp import _PendingLogin

_REAL_LOADS = json.loads


def _decode(stored: str) -> object:
    try:
        return _PendingLogin.decode(stored)
    except StoreError as exc:
        return (StoreError, str(exc))


def _reference(stored: str, monkeypatch: pytest.MonkeyPatch) -> object:
    # The previous decode is today's with every string going through json.loads: force that by making the
    # fast path see nothing it may read (json.loads is what decides then).
    with monkeypatch.context() as m:
        m.setattr("fedlib.sp._PENDING_SCANNER", _no_scan)
        return _decode(stored)


def _no_scan(stored: str, index: int) -> tuple[object, int]:
    raise StopIteration(index)


PENDING = st.builds(
    _PendingLogin,
    st.text(max_size=20),
    st.none() | st.text(max_size=20),
    st.none() | st.text(max_size=20),
    st.text(max_size=20),
    st.none()
    | st.builds(
        AuthnContextRequirement,
        st.lists(st.sampled_from(["urn:a", "urn:b"]), min_size=1, max_size=2).map(tuple),
        st.sampled_from(["exact", "minimum"]),
    ),
)


def _variants(encoded: str) -> list[str]:
    return [
        encoded,
        " " + encoded,
        encoded + " ",
        encoded + "x",
        encoded + "[]",
        "\ufeff" + encoded,
        encoded[:-1],
        encoded.replace("l1", "l2", 1),
        "[" * 5000 + "]" * 5000,
        "[1,2",
        "[",
        "",
        "{}",
        '{"idp": "x", "browser": "y"}',
        '["\x01"]',
    ]


@settings(max_examples=200, deadline=None)
@given(PENDING, st.integers(0, 14))
@example(_PendingLogin("idp", None, None, "h", None), 0)
def test_decode_reads_as_json_loads_does(pending: _PendingLogin, which: int) -> None:
    stored = _variants(pending.encode())[which]
    with pytest.MonkeyPatch.context() as m:
        reference = _reference(stored, m)
    got = _decode(stored)
    assert got == reference
    if which == 0:
        assert got == pending


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='[]{},:" 0123456789.eEtrufalsn\\l1\ufeff', max_size=40))
def test_any_text_decodes_as_json_loads_does(stored: str) -> None:
    with pytest.MonkeyPatch.context() as m:
        reference = _reference(stored, m)
    assert _decode(stored) == reference


@pytest.mark.parametrize("position", [1, 2, 3, 4])
@pytest.mark.parametrize("value", [5, 1.5, True, [], {}, None, "s"])
def test_each_field_takes_only_its_types(position: int, value: object) -> None:
    """idp and browser: a string; relay_state and acs_url: a string or null (anything else is corruption)."""
    fields: list[object] = ["l1", "idp", "/home", "https://sp.example/acs", "h", None]
    fields[position] = value
    stored = json.dumps(fields, separators=(",", ":"))
    allowed = isinstance(value, str) or (value is None and position in (2, 3))
    got = _decode(stored)
    if allowed:
        assert isinstance(got, _PendingLogin)
        assert got[position - 1] == value
    else:
        assert got == (StoreError, "the pending login request in the store is unreadable (corrupt or foreign entry)")
