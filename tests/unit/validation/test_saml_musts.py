"""The SAML MUSTs of issue #8 section 6, the replay entry lifetime (section 7) and far-future instants (§5).

Every response here is genuinely signed (the rules run on the verified tree); each test fails without
the rule it names.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.adversarial._forge import hand_signature, resign
from tests.support import ACS, IDP_ID, NOW, NS, SP_ID, World, serialize, tree

from fedlib.cli import main
from fedlib.clock import EARLIEST_INSTANT, LATEST_INSTANT, add_saturating, parse_instant
from fedlib.config import SecurityPolicy
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.stores.memory import MemoryStore
from fedlib.testing import OMIT
from fedlib.testing.responses import sign_element

SAML = NS["saml"]
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def w() -> World:
    return World()


def q(local: str) -> str:
    return f"{{{SAML}}}{local}"


def edited(w: World, edit, **spec) -> bytes:  # type: ignore[no-untyped-def]
    """Mint unsigned, apply ``edit(root)``, then sign the Response: IdP-signed content of that shape."""
    root = tree(w.mint(sign_response=False, **spec))
    edit(root)
    sign_element(root, w.key)
    return serialize(root)


def rejection(w: World, xml: bytes, **kwargs) -> ResponseRejected:  # type: ignore[no-untyped-def]
    with pytest.raises(ResponseRejected) as info:
        w.check(xml, **kwargs)
    return info.value


def assertion_of(root: etree._Element) -> etree._Element:
    return root.find("saml:Assertion", NS)


# --- Profiles §4.1.4.2: a bearer assertion carries an AuthnStatement ----------------------------------


def test_no_authn_statement_is_refused(w: World) -> None:
    error = rejection(w, w.mint(include_authn_statement=False))
    assert error.code == ErrorCode.MISSING_AUTHN_STATEMENT
    assert "AuthnStatement" in error.message


def test_authn_statement_with_only_an_attribute_statement_is_refused(w: World) -> None:
    assert w.code_of(w.mint(include_authn_statement=False, attributes={"a": ["b"]})) == (
        ErrorCode.MISSING_AUTHN_STATEMENT
    )


def test_refused_for_a_missing_authn_statement_does_not_consume_the_assertion(w: World) -> None:
    assert w.code_of(w.mint(assertion_id="_a1", include_authn_statement=False)) == ErrorCode.MISSING_AUTHN_STATEMENT
    assert w.check(w.mint(assertion_id="_a1")).assertion_id == "_a1"


# --- Core §2.7.2: SessionNotOnOrAfter ----------------------------------------------------------------


def test_session_not_on_or_after_is_exposed(w: World) -> None:
    result = w.check(w.mint(session_not_on_or_after=NOW + timedelta(hours=8)))
    assert result.session_not_on_or_after == NOW + timedelta(hours=8)
    assert result.to_dict()["session_not_on_or_after"] == (NOW + timedelta(hours=8)).isoformat()
    assert w.check(w.mint()).session_not_on_or_after is None


def test_session_already_ended_is_refused(w: World) -> None:
    error = rejection(w, w.mint(session_not_on_or_after=NOW - timedelta(seconds=181)))
    assert error.code == ErrorCode.EXPIRED
    assert "session" in error.message
    # within the skew it is still accepted
    assert w.check(w.mint(session_not_on_or_after=NOW - timedelta(seconds=179))).name_id


def _second_statement(session_index: str, until: datetime):  # type: ignore[no-untyped-def]
    def edit(root: etree._Element) -> None:
        first = assertion_of(root).find("saml:AuthnStatement", NS)
        second = copy.deepcopy(first)
        second.set("SessionIndex", session_index)
        second.set("SessionNotOnOrAfter", until.strftime("%Y-%m-%dT%H:%M:%SZ"))
        first.addnext(second)

    return edit


def test_several_authn_statements_expose_the_earliest_session_end(w: World) -> None:
    xml = edited(
        w,
        _second_statement("_s2", NOW + timedelta(hours=1)),
        session_index="_s1",
        session_not_on_or_after=NOW + timedelta(hours=8),
    )
    result = w.check(xml)
    assert result.session_index == "_s1"
    assert result.session_not_on_or_after == NOW + timedelta(hours=1)


def test_any_ended_session_among_several_statements_is_refused(w: World) -> None:
    xml = edited(
        w,
        _second_statement("_s2", NOW - timedelta(hours=1)),
        session_not_on_or_after=NOW + timedelta(hours=8),
    )
    assert w.code_of(xml) == ErrorCode.EXPIRED


# --- Core §2.5.1.1: a condition fedlib does not understand makes the assertion Indeterminate ------------


def _add_condition(element: etree._Element, *, first: bool = False):  # type: ignore[no-untyped-def]
    def edit(root: etree._Element) -> None:
        conditions = assertion_of(root).find("saml:Conditions", NS)
        if first:
            conditions.insert(0, copy.deepcopy(element))
        else:
            conditions.append(copy.deepcopy(element))

    return edit


def _typed_condition() -> etree._Element:
    condition = etree.Element(q("Condition"), nsmap={"xsi": XSI, "v": "urn:example:vendor"})
    condition.set(f"{{{XSI}}}type", "v:DeviceCompliance")
    return condition


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize(
    ("make", "named"),
    [
        (_typed_condition, "v:DeviceCompliance"),
        (lambda: etree.Element("{urn:example:vendor}MustBeOnVpn"), "MustBeOnVpn"),
        (lambda: etree.Element(q("SomethingNew")), "SomethingNew"),
        (lambda: etree.Element(q("Condition")), "Condition"),
    ],
)
def test_unknown_condition_is_refused(w: World, make, named: str, first: bool) -> None:  # type: ignore[no-untyped-def]
    error = rejection(w, edited(w, _add_condition(make(), first=first)))
    assert error.code == ErrorCode.UNSUPPORTED_CONDITION
    assert named in error.message


def test_one_time_use_is_honoured_by_the_replay_cache(w: World) -> None:
    xml = edited(w, _add_condition(etree.Element(q("OneTimeUse"))))
    assert w.check(xml).name_id == "alice@example.com"
    assert w.code_of(xml) == ErrorCode.REPLAYED


def test_proxy_restriction_is_accepted(w: World) -> None:
    proxy = etree.Element(q("ProxyRestriction"), Count="0")
    etree.SubElement(proxy, q("Audience")).text = "https://other.example/"
    assert w.check(edited(w, _add_condition(proxy))).name_id == "alice@example.com"


@pytest.mark.parametrize("local", ["OneTimeUse", "ProxyRestriction"])
def test_one_time_use_and_proxy_restriction_at_most_once(w: World, local: str) -> None:
    def edit(root: etree._Element) -> None:
        conditions = assertion_of(root).find("saml:Conditions", NS)
        etree.SubElement(conditions, q(local))
        etree.SubElement(conditions, q(local))

    error = rejection(w, edited(w, edit))
    assert error.code == ErrorCode.UNSUPPORTED_CONDITION
    assert local in error.message


def test_several_audience_restrictions_are_still_understood(w: World) -> None:
    def edit(root: etree._Element) -> None:
        conditions = assertion_of(root).find("saml:Conditions", NS)
        extra = etree.SubElement(conditions, q("AudienceRestriction"))
        etree.SubElement(extra, q("Audience")).text = SP_ID

    assert w.check(edited(w, edit)).name_id


# --- NotBefore earlier than NotOnOrAfter -------------------------------------------------------------


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(seconds=-30)])
def test_empty_conditions_window_is_refused(w: World, gap: timedelta) -> None:
    # NotBefore == NotOnOrAfter == now would pass both comparisons once the skew is applied.
    xml = w.mint(not_before=NOW, not_on_or_after=NOW + gap)
    error = rejection(w, xml)
    assert error.code == ErrorCode.INVALID_TIME_WINDOW
    assert "Conditions" in error.message


def test_empty_subject_confirmation_window_is_refused(w: World) -> None:
    xml = w.mint(subject_not_before=NOW + timedelta(seconds=60), subject_not_on_or_after=NOW + timedelta(seconds=30))
    error = rejection(w, xml)
    assert error.code == ErrorCode.INVALID_TIME_WINDOW
    assert "SubjectConfirmationData" in error.message


def test_empty_window_on_a_second_confirmation_is_refused_too(w: World) -> None:
    def edit(root: etree._Element) -> None:
        subject = assertion_of(root).find("saml:Subject", NS)
        other = copy.deepcopy(subject.find("saml:SubjectConfirmation", NS))
        data = other.find("saml:SubjectConfirmationData", NS)
        data.set("NotBefore", "2026-11-21T12:10:00Z")
        data.set("NotOnOrAfter", "2026-11-21T12:05:00Z")
        subject.append(other)

    assert w.code_of(edited(w, edit)) == ErrorCode.INVALID_TIME_WINDOW


def test_a_proper_window_is_accepted(w: World) -> None:
    xml = w.mint(
        not_before=NOW - timedelta(seconds=1),
        not_on_or_after=NOW + timedelta(seconds=1),
        subject_not_before=NOW - timedelta(seconds=1),
        subject_not_on_or_after=NOW + timedelta(seconds=1),
    )
    assert w.check(xml).name_id


# --- IssueInstant: not in the future, not stale (Response and Assertion) --------------------------------


def _instant_of(which: str, value: datetime):  # type: ignore[no-untyped-def]
    def edit(root: etree._Element) -> None:
        element = root if which == "Response" else assertion_of(root)
        element.set("IssueInstant", value.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return edit


@pytest.mark.parametrize("which", ["Response", "Assertion"])
def test_issue_instant_in_the_future_is_refused(w: World, which: str) -> None:
    error = rejection(w, edited(w, _instant_of(which, NOW + timedelta(seconds=181))))
    assert error.code == ErrorCode.NOT_YET_VALID
    assert which in error.message
    assert w.check(edited(w, _instant_of(which, NOW + timedelta(seconds=179)))).name_id


@pytest.mark.parametrize("which", ["Response", "Assertion"])
def test_stale_issue_instant_is_refused(w: World, which: str) -> None:
    # The windows are long (an IdP may say 8 h): the age limit, not NotOnOrAfter, refuses it.
    long = {"lifetime": timedelta(hours=8), "not_before": NOW - timedelta(hours=1)}
    stale = NOW - timedelta(minutes=10, seconds=181)
    error = rejection(w, edited(w, _instant_of(which, stale), **long))
    assert error.code == ErrorCode.EXPIRED
    assert which in error.message
    assert "10 min" in error.message
    fresh_enough = NOW - timedelta(minutes=10, seconds=179)
    assert w.check(edited(w, _instant_of(which, fresh_enough), **long)).name_id


def test_max_assertion_age_is_configurable() -> None:
    w = World(policy=SecurityPolicy(allow_unsolicited=True, max_assertion_age=timedelta(hours=1)))
    xml = w.mint(lifetime=timedelta(hours=8))
    assert w.check(xml, now=NOW + timedelta(minutes=55)).name_id
    w = World(policy=SecurityPolicy(allow_unsolicited=True, max_assertion_age=timedelta(minutes=1)))
    assert w.code_of(w.mint(), now=NOW + timedelta(minutes=1, seconds=180)) == ErrorCode.EXPIRED


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=59), timedelta(hours=25), 600])
def test_max_assertion_age_is_validated(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        SecurityPolicy(max_assertion_age=bad)  # type: ignore[arg-type]


def test_default_max_assertion_age_is_ten_minutes() -> None:
    assert SecurityPolicy().max_assertion_age == timedelta(minutes=10)


# --- Core §2.4.1: one identifier in a Subject, and a non-empty NameID -------------------------------------


def _subject_edit(*, add: str | None = None, name_id_text: str | None = None, drop_name_id: bool = False):  # type: ignore[no-untyped-def]
    def edit(root: etree._Element) -> None:
        subject = assertion_of(root).find("saml:Subject", NS)
        name_id = subject.find("saml:NameID", NS)
        if add is not None:
            extra = etree.Element(q(add))
            if add == "NameID":
                extra.text = "mallory@example.com"
            name_id.addnext(extra)
        if name_id_text is not None:
            name_id.text = name_id_text
        if drop_name_id:
            subject.remove(name_id)

    return edit


@pytest.mark.parametrize("add", ["NameID", "BaseID"])
def test_two_identifiers_in_a_subject_are_refused(w: World, add: str) -> None:
    error = rejection(w, edited(w, _subject_edit(add=add)))
    assert error.code == ErrorCode.INVALID_SUBJECT_CONFIRMATION
    assert "identifiers" in error.message


def test_base_id_alone_is_refused_as_unsupported(w: World) -> None:
    error = rejection(w, edited(w, _subject_edit(add="BaseID", drop_name_id=True)))
    assert error.code == ErrorCode.INVALID_SUBJECT_CONFIRMATION
    assert "BaseID" in error.message


def test_encrypted_id_next_to_a_name_id_is_refused_before_verification(w: World) -> None:
    assert w.code_of(edited(w, _subject_edit(add="EncryptedID"))) == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\u00a0\u2003"])
def test_empty_name_id_is_refused(w: World, text: str) -> None:
    error = rejection(w, edited(w, _subject_edit(name_id_text=text)))
    assert error.code == ErrorCode.INVALID_SUBJECT_CONFIRMATION
    assert "empty" in error.message


def test_name_id_with_surrounding_whitespace_is_still_accepted(w: World) -> None:
    # Real IdP output (Beeline in the interop corpus) pretty-prints the NameID; its content is kept as sent.
    assert w.check(w.mint(name_id="\n  bob@example.com\n")).name_id == "\n  bob@example.com\n"


# --- §7: the replay entry lives as long as any copy could be accepted ------------------------------------


def _second_bearer(until: datetime):  # type: ignore[no-untyped-def]
    def edit(root: etree._Element) -> None:
        subject = assertion_of(root).find("saml:Subject", NS)
        other = copy.deepcopy(subject.find("saml:SubjectConfirmation", NS))
        other.find("saml:SubjectConfirmationData", NS).set("NotOnOrAfter", until.strftime("%Y-%m-%dT%H:%M:%SZ"))
        subject.append(other)

    return edit


def test_replay_entry_outlives_the_confirmation_that_qualified(w: World) -> None:
    # Two bearer confirmations, +5 min (qualifies first) and +8 h; no Conditions NotOnOrAfter.
    xml = edited(
        w,
        _second_bearer(NOW + timedelta(hours=8)),
        subject_not_on_or_after=NOW + timedelta(minutes=5),
        not_on_or_after=OMIT,
    )
    assert w.check(xml).name_id
    assert w.code_of(xml, now=NOW + timedelta(minutes=10)) == ErrorCode.REPLAYED
    # ... and once the replay entry is gone, the age limit refuses every copy.
    for minutes in (14, 60, 8 * 60 - 1):
        assert w.code_of(xml, now=NOW + timedelta(minutes=minutes)) == ErrorCode.EXPIRED


class RecordingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.expiries: list[datetime] = []

    def add(self, key: str, *, expires_at: datetime, now: datetime, value: str = "") -> bool:
        self.expiries.append(expires_at)
        return super().add(key, expires_at=expires_at, now=now, value=value)


def test_replay_expiry_is_the_latest_not_on_or_after_capped_by_the_age_limit_plus_skew() -> None:
    w = World(store=RecordingStore())
    w.check(w.mint())  # 5-minute windows
    w.check(w.mint(lifetime=timedelta(hours=8)))  # long windows: the age limit (10 min) is what matters
    assert w.store.expiries == [NOW + timedelta(minutes=5, seconds=180), NOW + timedelta(minutes=10, seconds=180)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bearer_minutes=st.lists(st.sampled_from([1, 3, 5, 8, 12, 60, 480]), min_size=1, max_size=3),
    conditions_minutes=st.one_of(st.none(), st.sampled_from([1, 5, 12, 480])),
    first=st.integers(0, 400),
    later=st.integers(1, 20),
)
def test_an_accepted_assertion_is_never_accepted_again(
    bearer_minutes: list[int], conditions_minutes: int | None, first: int, later: int
) -> None:
    w = World()
    untils = [NOW + timedelta(minutes=m) for m in bearer_minutes]

    def edit(root: etree._Element) -> None:
        for until in untils[1:]:
            _second_bearer(until)(root)

    xml = edited(
        w,
        edit,
        subject_not_on_or_after=untils[0],
        not_on_or_after=OMIT if conditions_minutes is None else NOW + timedelta(minutes=conditions_minutes),
    )
    try:
        w.check(xml, now=NOW + timedelta(seconds=first))
    except ResponseRejected:
        return
    assert w.code_of(xml, now=NOW + timedelta(seconds=first + later * 60)) in {
        ErrorCode.REPLAYED,
        ErrorCode.EXPIRED,
    }


# --- §5: far-future instants never overflow ---------------------------------------------------------


def test_saturating_arithmetic() -> None:
    assert add_saturating(FAR, timedelta(seconds=180)) == LATEST_INSTANT
    assert add_saturating(LATEST_INSTANT, timedelta(days=1)) == LATEST_INSTANT
    assert add_saturating(EARLIEST_INSTANT, -timedelta(days=1)) == EARLIEST_INSTANT
    assert add_saturating(NOW, timedelta(seconds=1)) == NOW + timedelta(seconds=1)
    with pytest.raises(ValueError, match="naive"):
        add_saturating(datetime(2026, 1, 1), timedelta(0))


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_unrepresentable_instants_are_value_errors(value: str) -> None:
    with pytest.raises(ValueError, match="1-9999"):
        parse_instant(value)


def test_far_future_offset_instant_is_malformed_not_a_crash(w: World) -> None:
    def edit(root: etree._Element) -> None:
        assertion_of(root).find("saml:Conditions", NS).set("NotOnOrAfter", "9999-12-31T23:59:59-05:00")

    assert w.code_of(edited(w, edit)) == ErrorCode.MALFORMED_XML


def test_far_future_not_on_or_after_is_accepted_and_remembered() -> None:
    w = World(store=RecordingStore())
    xml = w.mint(not_on_or_after=FAR, subject_not_on_or_after=FAR, session_not_on_or_after=FAR)
    result = w.check(xml)
    assert result.not_on_or_after == FAR
    assert result.session_not_on_or_after == FAR
    assert w.store.expiries == [NOW + timedelta(minutes=10, seconds=180)]  # capped by the age limit
    assert w.code_of(xml) == ErrorCode.REPLAYED


def test_far_future_issue_instant_is_not_yet_valid(w: World) -> None:
    assert w.code_of(edited(w, _instant_of("Assertion", FAR))) == ErrorCode.NOT_YET_VALID


def test_check_response_cli_with_far_future_instants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = World()
    md = tmp_path / "idp.xml"
    md.write_bytes(w.metadata_xml)
    resp = tmp_path / "resp.xml"
    resp.write_bytes(w.mint(not_on_or_after=FAR, subject_not_on_or_after=FAR, session_not_on_or_after=FAR))
    argv = ["check-response", str(resp), "--sp-entity-id", SP_ID, "--acs-url", ACS, "--idp-metadata", str(md)]
    status = main([*argv, "--now", "2026-11-21T12:00:00Z", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert (status, doc["ok"], doc["issuer"]) == (0, True, IDP_ID)
    # and a --now near the end of time is a usage error (the CLI takes 1970-9000), never a traceback
    status = main([*argv, "--now", "9999-12-31T23:59:59.999999Z", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert (status, doc["ok"], doc["error"]) == (2, False, "configuration-error")


# --- pinned: what is right today stays accepted ------------------------------------------------------


def test_pin_empty_reference_uri_on_the_document_element_is_accepted(w: World) -> None:
    # OpenSAML's and SimpleSAMLphp's profile validators accept URI="" on the document element's signature.
    root = tree(w.mint(sign_response=False))
    signature = hand_signature(uri="", cert_b64=[w.key.cert_b64])
    root.find("saml:Issuer", NS).addnext(signature)
    resign(root, w.key, signature=signature)
    assert w.check(serialize(root)).name_id == "alice@example.com"


@pytest.mark.parametrize("c14n", ["c14n", "c14n11", "exc"])
@pytest.mark.parametrize("sign_assertion", [False, True])
def test_pin_inclusive_c14n_is_accepted(w: World, c14n: str, sign_assertion: bool) -> None:
    assert w.check(w.mint(c14n=c14n, sign_assertion=sign_assertion)).name_id == "alice@example.com"


# --- xs:dateTime zones and Issuer cardinality inside IdP-signed content (attacker review, 2026-12-07) ---


@pytest.mark.parametrize("where", ["Response", "Assertion", "Conditions"])
def test_signed_instant_with_a_zone_out_of_range_is_malformed(w: World, where: str) -> None:
    def edit(root: etree._Element) -> None:
        element = {
            "Response": root,
            "Assertion": assertion_of(root),
            "Conditions": assertion_of(root).find("saml:Conditions", NS),
        }[where]
        name = "NotOnOrAfter" if where == "Conditions" else "IssueInstant"
        element.set(name, element.get(name).replace("Z", "+99:99"))

    error = rejection(w, edited(w, edit))
    assert error.code == ErrorCode.MALFORMED_XML
    assert "xs:dateTime" in error.message


@pytest.mark.parametrize("where", ["Response", "Assertion"])
@pytest.mark.parametrize("second", ["same", "other"])
def test_two_issuers_are_refused(w: World, where: str, second: str) -> None:
    """Response and Assertion carry at most / exactly one Issuer (SAML core §3.2.2, §2.3.3): with two, which
    one names the IdP is ambiguous, whatever the second one says."""

    def edit(root: etree._Element) -> None:
        element = root if where == "Response" else assertion_of(root)
        issuer = element.find("saml:Issuer", NS)
        extra = copy.deepcopy(issuer)
        if second == "other":
            extra.text = "https://other-idp.example/"
        issuer.addnext(extra)

    error = rejection(w, edited(w, edit))
    assert error.code == ErrorCode.WRONG_ISSUER
    assert "Issuer" in error.message
