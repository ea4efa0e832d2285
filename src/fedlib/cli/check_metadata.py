"""``fedlib check-metadata``: read or fetch IdP metadata, verify it, report entities, endpoints, certificates.

::

    fedlib check-metadata SOURCE [--signer CERT] [--entity-id ID] [--warn-days N] [--now ISO8601] [--json]

SOURCE is a file or an https URL. With ``--signer`` (PEM, may hold several certificates) the document must
be signed by one of them; an aggregate from a URL must always be signed and carry validUntil. Lists every
SAML 2.0 IdP (or only ``--entity-id``) with its validUntil, SSO/SLO endpoints and signing certificates with
their expiry dates; warns for certificates expiring within N days (default 30).

Exit 0: valid (warnings alone do not fail); 1: anything expired, unverifiable or unreachable; 2: usage.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fedlib.cli._sources import load_document, read_certificates
from fedlib.cli._text import terminal_safe
from fedlib.errors import ConfigurationError
from fedlib.metadata.document import MetadataDocument, certificate_subject
from fedlib.metadata.idp import Endpoint, IdPMetadata

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check-metadata",
        help="verify IdP metadata and report certificate expiry (exit 0 ok, 1 problem, 2 usage)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE", help="the metadata: a file or an https URL")
    p.add_argument("--signer", metavar="CERT", help="PEM certificate(s) that must have signed the metadata")
    p.add_argument("--entity-id", metavar="ID", help="report only this entity")
    p.add_argument(
        "--warn-days", type=int, default=30, metavar="N", help="warn for certificates expiring within N days"
    )
    p.add_argument("--now", help="evaluate at this time (ISO 8601, default: the system clock)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"--now {value!r} is not an ISO 8601 time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _endpoint(e: Endpoint) -> dict[str, str]:
    return {"binding": e.binding, "location": e.location}


def _certificate(cert: x509.Certificate, now: datetime, warn: timedelta) -> dict[str, Any]:
    not_after = cert.not_valid_after_utc
    return {
        "subject": certificate_subject(cert),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(not_after),
        "expired": not_after <= now,
        "expiring": now < not_after <= now + warn,
        "weak_key": _weak_key(cert),
    }


def _weak_key(cert: x509.Certificate) -> str | None:
    """Why the certificate's key is below today's minimum (NIST SP 800-131A: RSA 2048 bits, EC 224; an RSA
    exponent of 65537 is the universal choice, e=3 the classic forgery target of lax verifiers), or None.
    A warning, not a refusal: fedlib verifies such signatures strictly, and legacy IdPs still use them."""
    try:
        key = cert.public_key()
    except ValueError:  # a key type cryptography cannot load: the metadata parser already refused those
        return None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            return f"a {key.key_size}-bit RSA key (2048 bits is the minimum today)"
        exponent = key.public_numbers().e
        if exponent < 65537:
            return f"an RSA key with public exponent {exponent} (65537 is the norm)"
    elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 224:
        return f"a {key.curve.key_size}-bit EC key ({key.curve.name}; 256 bits is the norm)"
    return None


def _entity(idp: IdPMetadata, now: datetime, warn: timedelta) -> dict[str, Any]:
    return {
        "entity_id": idp.entity_id,
        "valid_until": _iso(idp.valid_until),
        "sso": [_endpoint(e) for e in idp.sso_endpoints],
        "slo": [_endpoint(e) for e in idp.slo_endpoints],
        "certificates": [_certificate(c, now, warn) for c in idp.signing_certificates],
        "error": None,
    }


def _report(document: MetadataDocument, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    warn = timedelta(days=args.warn_days)
    wanted = [args.entity_id] if args.entity_id is not None else list(document.idp_entity_ids)
    entities: list[dict[str, Any]] = []
    errors: list[str] = []
    warnings: list[str] = []
    if not wanted:
        errors.append("the metadata holds no SAML 2.0 IdP")
    for entity_id in wanted:
        try:
            entry = _entity(document.idp(entity_id, now=now), now, warn)
        except ConfigurationError as exc:
            entities.append({"entity_id": entity_id, "error": exc.message})
            errors.append(exc.message)
            continue
        for cert in entry["certificates"]:
            if cert["expired"]:
                errors.append(f"{entity_id}: signing certificate {cert['subject']} expired {cert['not_after']}")
            elif cert["expiring"]:
                warnings.append(f"{entity_id}: signing certificate {cert['subject']} expires {cert['not_after']}")
            if cert["weak_key"] is not None:
                warnings.append(
                    f"{entity_id}: signing certificate {cert['subject']} has {cert['weak_key']}; ask the IdP to "
                    "roll over to a stronger signing key"
                )
        entities.append(entry)
    return {
        "ok": not errors,
        "source": args.source,
        "document": {
            "kind": document.kind,
            "signed": document.signed,
            "valid_until": _iso(document.valid_until),
            "cache_duration_seconds": document.cache_duration.total_seconds() if document.cache_duration else None,
            "idp_count": len(document.idp_entity_ids),
        },
        "entities": entities,
        "warnings": warnings,
        "errors": errors,
    }


def _text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    doc = report["document"]
    head = "OK" if report["ok"] else "PROBLEM"
    if doc is None:
        lines.append(f"{head}  {report['source']}")
    else:
        lines.append(
            f"{head}  {report['source']}  ({doc['kind']}, {'signed' if doc['signed'] else 'unsigned'}, "
            f"validUntil {doc['valid_until'] or '-'}, {doc['idp_count']} IdP(s))"
        )
    for entity in report["entities"]:
        lines.append(f"entity {entity['entity_id']}")
        if entity.get("error"):
            lines.append(f"  ERROR {entity['error']}")
            continue
        lines.append(f"  validUntil  {entity['valid_until'] or '-'}")
        lines += [f"  SSO  {e['binding']}  {e['location']}" for e in entity["sso"]]
        lines += [f"  SLO  {e['binding']}  {e['location']}" for e in entity["slo"]]
        for cert in entity["certificates"]:
            state = "EXPIRED" if cert["expired"] else "EXPIRING" if cert["expiring"] else "ok"
            lines.append(f"  cert {cert['subject']}  notAfter {cert['not_after']}  {state}")
            lines.append(f"       sha256 {cert['sha256']}")
    lines += [f"WARNING {w}" for w in report["warnings"]]
    lines += [f"ERROR {e}" for e in report["errors"] if not any(e == x.get("error") for x in report["entities"])]
    return "\n".join(lines)


def _emit(args: argparse.Namespace, report: dict[str, Any]) -> None:
    print(json.dumps(report, ensure_ascii=False) if args.json else terminal_safe(_text(report)))


def run(args: argparse.Namespace) -> int:
    """Implement the command; never raises for bad input."""
    try:
        if not 0 <= args.warn_days <= 3650:
            raise ConfigurationError("--warn-days must be between 0 and 3650")
        now = _parse_now(args.now)
        signers = read_certificates(args.signer) if args.signer else None
    except ConfigurationError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": "usage", "message": exc.message}, ensure_ascii=False))
        else:
            print(terminal_safe(f"usage error: {exc.message}"))
        return EXIT_USAGE
    try:
        document = load_document(args.source, now=now, signers=signers)
    except ConfigurationError as exc:
        report: dict[str, Any] = {
            "ok": False,
            "source": args.source,
            "document": None,
            "entities": [],
            "warnings": [],
            "errors": [exc.message],
        }
        _emit(args, report)
        return EXIT_PROBLEM
    report = _report(document, args, now)
    _emit(args, report)
    return EXIT_OK if report["ok"] else EXIT_PROBLEM
