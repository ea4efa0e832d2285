"""``binding.check_presented`` (finish_login's binding check in one call) decides exactly as
``cookie_name`` then ``matches`` (the rules it falls back to), whatever is presented and stored.

The reference is the previous code of ``ServiceProvider._solicited_result``, verbatim."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedlib import binding

SECRET = binding.new_secret()
OTHER = binding.new_secret()
ACS_URLS = ["https://sp.example.test/acs", "http://localhost/acs", "HTTPS://sp.example.test/acs"]


class _Str(str):
    __slots__ = ()


def _reference(stored: object, acs_url: str, request_id: str, presented_by: object) -> tuple[bool, object, str]:
    name = binding.cookie_name(acs_url, request_id)
    presented = presented_by.get(name) if isinstance(presented_by, Mapping) else presented_by
    return binding.matches(stored, presented), presented, name  # type: ignore[arg-type]


STORED = st.sampled_from(
    [
        binding.secret_hash(SECRET),
        binding.secret_hash(SECRET).upper(),
        binding.secret_hash(OTHER),
        binding.secret_hash(SECRET[:31]),  # a hash of a malformed secret: matches still refuses it
        binding.secret_hash("é" * 40),
        "",
        "é",
        None,
        7,
    ]
)
SECRETS = st.one_of(
    st.sampled_from([SECRET, OTHER, SECRET[:31], SECRET + "!", "A" * 129, "A" * 128, "é" * 40, "", None, 5]),
    st.builds(_Str, st.just(SECRET)),
    st.text(alphabet="Aa0_-.\udcff", max_size=140),
)


@st.composite
def presented(draw: st.DrawFn, acs_url: str, request_id: str) -> object:
    secret = draw(SECRETS)
    name = binding.cookie_name(acs_url, request_id)
    kind = draw(st.sampled_from(["secret", "dict", "dict-other", "proxy", "empty", "bytes"]))
    if kind == "secret":
        return secret
    if kind == "dict":
        return {name: secret, "other": "x"}
    if kind == "dict-other":
        return {name + "x": secret}
    if kind == "proxy":
        return MappingProxyType({name: secret})
    if kind == "empty":
        return {}
    return b"x" * 43


@st.composite
def cases(draw: st.DrawFn) -> tuple[object, str, str, object]:
    acs_url = draw(st.sampled_from(ACS_URLS))
    request_id = draw(st.text(min_size=1, max_size=40).filter(lambda s: "\udcff" not in s) | st.just("_abc"))
    return draw(STORED), acs_url, request_id, draw(presented(acs_url, request_id))


@settings(max_examples=400, deadline=None)
@given(cases())
@example((binding.secret_hash(SECRET), ACS_URLS[0], "_abc", SECRET))
@example((binding.secret_hash(OTHER), ACS_URLS[0], "_abc", SECRET))
@example((binding.secret_hash(SECRET).upper(), ACS_URLS[0], "_abc", SECRET))
@example(("", ACS_URLS[0], "_abc", SECRET))
@example((None, ACS_URLS[0], "_abc", SECRET))
@example((binding.secret_hash(SECRET), ACS_URLS[1], "_abc", {binding.cookie_name(ACS_URLS[1], "_abc"): SECRET}))
@example((binding.secret_hash(SECRET), ACS_URLS[0], "_abc", SECRET[:31]))
@example((binding.secret_hash(SECRET[:31]), ACS_URLS[0], "_abc", SECRET[:31]))
@example((binding.secret_hash(SECRET), ACS_URLS[0], "_abc", _Str(SECRET)))
@example((binding.secret_hash(SECRET), ACS_URLS[0], "_abc", None))
def test_check_presented_decides_as_cookie_name_and_matches(case: tuple[object, str, str, object]) -> None:
    stored, acs_url, request_id, presented_by = case
    got = binding.check_presented(stored, acs_url, request_id, presented_by)  # type: ignore[arg-type]
    assert got == _reference(stored, acs_url, request_id, presented_by)
    assert type(got[1]) is type(_reference(stored, acs_url, request_id, presented_by)[1])
