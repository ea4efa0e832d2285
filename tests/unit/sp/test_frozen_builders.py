"""The private builders of the frozen values a login returns (issue #9) make exactly what the dataclass
constructors make: ``binding._new_cookie`` (``BindingCookie``), ``sp._new_login_request`` (``LoginRequest``)
and ``sp._new_login_result`` (``LoginResult``).

They are ``fedlib._frozen.fast_builder`` functions (tests/unit/core/test_frozen.py holds the technique to
constructors in general); here, on these classes' own values: every field is compared with the
constructor's, and so are the type, equality, hash, repr, frozenness, ``dataclasses.replace`` and pickling.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.frozen_support import assert_same_frozen

from fedlib import binding
from fedlib.sp import LoginRequest, LoginResult, _new_login_request, _new_login_result

TEXT = st.text(max_size=20)
OPTIONAL_TEXT = st.none() | TEXT
COOKIES = st.builds(binding.BindingCookie, TEXT, TEXT, st.integers(-5, 10**6))


@settings(max_examples=200, deadline=None)
@given(name=TEXT, value=TEXT, max_age=st.integers(-5, 10**6))
def test_new_cookie_is_the_constructors(name: str, value: str, max_age: int) -> None:
    assert_same_frozen(binding._new_cookie(name, value, max_age), binding.BindingCookie(name, value, max_age))


@settings(max_examples=200, deadline=None)
@given(
    values=st.tuples(TEXT, TEXT, TEXT, OPTIONAL_TEXT, OPTIONAL_TEXT, TEXT, COOKIES),
)
def test_new_login_request_is_the_constructors(values: tuple[Any, ...]) -> None:
    names = [field.name for field in dataclasses.fields(LoginRequest)]
    assert_same_frozen(_new_login_request(*values), LoginRequest(**dict(zip(names, values, strict=True))))


@settings(max_examples=200, deadline=None)
@given(
    values=st.tuples(st.integers() | TEXT, OPTIONAL_TEXT, TEXT, st.booleans(), st.none() | COOKIES),
)
def test_new_login_result_is_the_constructors(values: tuple[Any, ...]) -> None:
    names = [field.name for field in dataclasses.fields(LoginResult)]
    assert_same_frozen(_new_login_result(*values), LoginResult(**dict(zip(names, values, strict=True))))


def test_a_login_returns_built_values() -> None:
    """The values start_login and finish_login return are real instances (covered end to end in
    test_service_provider.py; here: the builders' output survives what adapters do with it)."""
    cookie = binding.binding_cookie("https://sp.example.test/acs", "_abc", "s" * 43, 600)
    assert type(cookie) is binding.BindingCookie
    assert cookie.header().startswith("__Host-fedlib-login-")
    assert binding.expired_cookie(cookie.name) == binding.BindingCookie(cookie.name, "", 0)
