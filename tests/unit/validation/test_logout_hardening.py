"""LogoutRequest findings of the adversarial review of issue #8 (each test fails without its fix)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree
from tests.unit.validation.test_logout import SESSION, SLO, USER, make_idp, make_sp, post, redirect, refused

import fedlib._xml.ids as ids_module
from fedlib.constants import NS_SAMLP
from fedlib.errors import ErrorCode
from fedlib.testing.responses import serialize

FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_far_future_not_on_or_after_never_overflows_redirect() -> None:
    idp = make_idp()
    result = redirect(make_sp(idp), idp.logout_request_url(SLO, USER, session_index="_s1", not_on_or_after=FAR))
    assert result.session_matched


def test_far_future_not_on_or_after_never_overflows_post_without_session() -> None:
    idp = make_idp()
    form = idp.logout_request_post(SLO, USER, not_on_or_after=FAR)
    assert not post(make_sp(idp), form.fields, session=None).session_matched


def _signed_post_with_children(idp: Any, *children: etree._Element) -> dict[str, str]:
    root = idp.logout_request_xml(SLO, USER, session_index="_s1")
    extensions = etree.Element(f"{{{NS_SAMLP}}}Extensions")
    for child in children:
        extensions.append(child)
    root.insert(1, extensions)  # after the Issuer, as the schema orders it
    idp._sign(root, idp.behaviour)
    return {"SAMLRequest": base64.b64encode(serialize(root)).decode("ascii")}


def test_duplicate_ids_in_a_signed_post_logout_request_are_wrapping() -> None:
    """Two elements sharing an ID (not the root's): only the document-wide uniqueness check sees it."""
    idp = make_idp()
    fields = _signed_post_with_children(idp, etree.Element("{urn:x}a", ID="_dup"), etree.Element("{urn:x}b", ID="_dup"))
    refused(ErrorCode.SIGNATURE_WRAPPING, post, make_sp(idp), fields)


def test_id_flood_in_a_post_logout_request_is_refused_before_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The logout POST path caps ID attributes like a Response, and counts before the (slow) union XPath."""

    def tripwire(_root: Any) -> Any:
        raise AssertionError("the ID union must not be evaluated over the cap")

    idp = make_idp()
    flood = [etree.Element("{urn:x}e", {"ID": f"a{i}", "Id": f"b{i}", "id": f"c{i}"}) for i in range(100)]
    fields = _signed_post_with_children(idp, *flood)
    monkeypatch.setattr(ids_module, "_ID_VALUES", tripwire)
    refused(ErrorCode.MESSAGE_TOO_COMPLEX, post, make_sp(idp), fields)


def test_a_request_seen_without_a_session_is_not_spent() -> None:
    """Whoever holds a victim's signed logout URL cannot use it up from a browser with no session."""
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER, session_index="_s1")
    assert not redirect(sp, url, session=None).session_matched
    assert redirect(sp, url, session=SESSION).session_matched
    refused(ErrorCode.REPLAYED, redirect, sp, url, session=SESSION)


def test_request_expiry_is_bounded_by_issue_instant_plus_max_age() -> None:
    """NotOnOrAfter never lengthens the window: past IssueInstant + max age + skew it is expired."""
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER, session_index="_s1", not_on_or_after=FAR)
    later = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC) + timedelta(hours=1)
    refused(ErrorCode.EXPIRED, redirect, sp, url, now=later)
