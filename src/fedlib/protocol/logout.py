"""Building the SP's Single Logout messages (SAML Core §3.7; Profiles §4.4), sans-I/O.

* ``build_logout_request``: SP-initiated logout, ``<samlp:LogoutRequest>`` naming the session's NameID
  (value, Format, NameQualifier, SPNameQualifier exactly as received at login) and its SessionIndex,
  addressed (``Destination``) to the IdP's SingleLogoutService ``Location``.
* ``build_logout_response``: the answer to an IdP-initiated LogoutRequest, ``<samlp:LogoutResponse>``
  with ``InResponseTo`` = the request's ID, addressed to the IdP's SLO ``ResponseLocation`` (or
  ``Location``), top-level status ``Success`` with the second-level ``PartialLogout`` when the application
  could not end every session (SAML Core §3.2.2.2, §3.7.3.2).

Both return a ``LogoutMessage``: unsigned XML that the bindings sign, the query for HTTP-Redirect
(``redirect_url``), an enveloped signature for HTTP-POST (``post_form``). Keep ``LogoutMessage.id`` of a
LogoutRequest: the IdP's LogoutResponse must answer it (``InResponseTo``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from fedlib.clock import ensure_aware, format_instant
from fedlib.config import SPConfig
from fedlib.constants import (
    NS_SAML,
    NS_SAMLP,
    SAML_ISSUER,
    SAML_NAMEID,
    SAML_VERSION,
    SAMLP_STATUS,
    SAMLP_STATUS_CODE,
    STATUS_SUCCESS,
    qname,
)
from fedlib.protocol.authn_request import check_request_id, new_request_id
from fedlib.protocol.bindings import MessageParameter, OutgoingMessage, check_destination

SAMLP_LOGOUT_REQUEST: Final = qname(NS_SAMLP, "LogoutRequest")
SAMLP_LOGOUT_RESPONSE: Final = qname(NS_SAMLP, "LogoutResponse")
SAMLP_SESSION_INDEX: Final = qname(NS_SAMLP, "SessionIndex")
STATUS_PARTIAL_LOGOUT: Final = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
"""Second-level status code (SAML Core §3.2.2.2): not every session of the principal could be ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutMessage(OutgoingMessage):
    """A built LogoutRequest or LogoutResponse. ``xml`` is unsigned; the bindings sign it: ``redirect_url``,
    ``post_form``, ``signed_xml`` with a ``Signer``."""

    id: str
    """The message ID (of a LogoutRequest: what the LogoutResponse's ``InResponseTo`` must be)."""

    xml: bytes
    """The unsigned message (UTF-8, no XML declaration)."""

    issue_instant: datetime
    destination: str
    """Where the binding sends it (also the ``Destination`` attribute)."""

    parameter: MessageParameter
    """``SAMLRequest`` for a LogoutRequest, ``SAMLResponse`` for a LogoutResponse."""

    @property
    def message_parameter(self) -> MessageParameter:
        return self.parameter


def _root(tag: str, message_id: str | None, destination: str, now: datetime) -> tuple[etree._Element, datetime]:
    issue_instant = ensure_aware(now).replace(microsecond=0)
    check_destination(destination)
    message_id = new_request_id() if message_id is None else message_id
    check_request_id(message_id)
    root = etree.Element(tag, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
    root.set("ID", message_id)
    root.set("Version", SAML_VERSION)
    root.set("IssueInstant", format_instant(issue_instant))
    root.set("Destination", destination)
    return root, issue_instant


def _message(
    root: etree._Element, issue_instant: datetime, destination: str, parameter: MessageParameter
) -> LogoutMessage:
    return LogoutMessage(
        id=root.get("ID") or "",
        xml=etree.tostring(root, encoding="UTF-8", xml_declaration=False),
        issue_instant=issue_instant,
        destination=destination,
        parameter=parameter,
    )


def build_logout_request(
    sp: SPConfig,
    idp_slo_url: str,
    *,
    name_id: str,
    name_id_format: str | None = None,
    name_qualifier: str | None = None,
    sp_name_qualifier: str | None = None,
    session_index: str | None = None,
    now: datetime,
    not_on_or_after: datetime | None = None,
    request_id: str | None = None,
) -> LogoutMessage:
    """An SP-initiated LogoutRequest (SAML Core §3.7.1) for the session with this NameID and SessionIndex.

    Pass the NameID exactly as the login's Assertion carried it (``AuthnResult.name_id``, ``name_id_format``,
    ``name_qualifier``, ``sp_name_qualifier``) and its ``session_index``: the IdP matches them literally.

    Raises:
        ValueError: naive ``now``, bad ID or destination, empty NameID.
    """
    if not name_id:
        raise ValueError("a LogoutRequest needs the session's NameID")
    root, issue_instant = _root(SAMLP_LOGOUT_REQUEST, request_id, idp_slo_url, now)
    if not_on_or_after is not None:
        root.set("NotOnOrAfter", format_instant(ensure_aware(not_on_or_after)))
    etree.SubElement(root, SAML_ISSUER).text = sp.entity_id
    name = etree.SubElement(root, SAML_NAMEID)
    for attribute, value in (
        ("NameQualifier", name_qualifier),
        ("SPNameQualifier", sp_name_qualifier),
        ("Format", name_id_format),
    ):
        if value is not None:
            name.set(attribute, value)
    name.text = name_id
    if session_index is not None:
        etree.SubElement(root, SAMLP_SESSION_INDEX).text = session_index
    return _message(root, issue_instant, idp_slo_url, "SAMLRequest")


def build_logout_response(
    sp: SPConfig,
    destination: str,
    *,
    in_response_to: str,
    now: datetime,
    partial: bool = False,
    response_id: str | None = None,
) -> LogoutMessage:
    """The LogoutResponse to an IdP's LogoutRequest (SAML Core §3.7.2): top-level ``Success``, with the
    second-level ``PartialLogout`` when ``partial`` (the application could not end every session).

    ``destination``: the IdP's SLO ``ResponseLocation`` for the binding, else its ``Location``.

    Raises:
        ValueError: naive ``now``, bad ID, InResponseTo or destination.
    """
    if not in_response_to or len(in_response_to) > 256 or any(c.isspace() or ord(c) < 0x20 for c in in_response_to):
        raise ValueError("in_response_to must be the LogoutRequest's ID")
    root, issue_instant = _root(SAMLP_LOGOUT_RESPONSE, response_id, destination, now)
    root.set("InResponseTo", in_response_to)
    etree.SubElement(root, SAML_ISSUER).text = sp.entity_id
    status = etree.SubElement(root, SAMLP_STATUS)
    code = etree.SubElement(status, SAMLP_STATUS_CODE)
    code.set("Value", STATUS_SUCCESS)
    if partial:
        etree.SubElement(code, SAMLP_STATUS_CODE).set("Value", STATUS_PARTIAL_LOGOUT)
    return _message(root, issue_instant, destination, "SAMLResponse")


__all__ = [
    "SAMLP_LOGOUT_REQUEST",
    "SAMLP_LOGOUT_RESPONSE",
    "SAMLP_SESSION_INDEX",
    "STATUS_PARTIAL_LOGOUT",
    "LogoutMessage",
    "build_logout_request",
    "build_logout_response",
]
