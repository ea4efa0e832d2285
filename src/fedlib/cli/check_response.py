"""``fedlib check-response``: validate one Response with the default policy.

Contract (used by external harnesses; keep it exactly)::

    fedlib check-response FILE --sp-entity-id URI --acs-url URL --idp-metadata FILE|URL
        [--metadata-signer CERT] [--idp-entity-id ID]
        [--request-id ID] [--now ISO8601] [--clock-skew SECONDS] [--store URL] [--allow-sha1] [--json]

FILE is raw XML or the base64 SAMLResponse form value. Without --request-id the response must be
unsolicited. --idp-metadata is a file or an https URL; with --metadata-signer the metadata must be
signed by that certificate (always for an aggregate fetched from a URL). In an aggregate, --idp-entity-id
picks the IdP; without it the Response's Issuer does (a lookup hint: verification decides).
Exit 0 accepted, 1 rejected, 2 usage/configuration/store error (3: internal error, see
``fedlib --help``). With --json one JSON object is printed on standard output in every case.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fedlib._files import read_file, read_stdin
from fedlib.cli._sources import load_document, read_certificates, select_idp, untrusted_issuer
from fedlib.cli._text import terminal_safe
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError, ResponseRejected, StoreError
from fedlib.stores.url import open_store
from fedlib.validation.pipeline import validate_response

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_CONFIG = 2

_EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_NOW = datetime(9000, 1, 1, tzinfo=UTC)  # far from datetime.max: now + skew must not overflow


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check-response",
        help="validate a SAML Response (exit 0 accepted, 1 rejected, 2 configuration error)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the Response: raw XML or the base64 SAMLResponse value ('-': stdin)")
    p.add_argument("--sp-entity-id", required=True, help="this SP's entity ID (the expected Audience)")
    p.add_argument("--acs-url", required=True, help="this SP's ACS URL (the expected Destination and Recipient)")
    p.add_argument(
        "--idp-metadata", required=True, metavar="FILE|URL", help="the IdP's SAML metadata: a file or an https URL"
    )
    p.add_argument(
        "--metadata-signer",
        metavar="CERT",
        help="PEM certificate(s) that must have signed the metadata (a federation's or the IdP's signer)",
    )
    p.add_argument(
        "--idp-entity-id", help="which IdP to use when the metadata is an aggregate (default: the Response's Issuer)"
    )
    p.add_argument("--request-id", help="the AuthnRequest ID the Response must answer; omit for unsolicited")
    p.add_argument("--now", help="evaluate at this time (ISO 8601, default: the system clock)")
    p.add_argument("--clock-skew", type=float, default=180.0, metavar="SECONDS", help="default 180")
    p.add_argument("--store", default="memory://", help="replay store URL (memory://, sqlite:///path)")
    p.add_argument("--allow-sha1", action="store_true", help="INSECURE: accept RSA-SHA1 / SHA-1 (legacy IdPs)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigurationError(f"--now {value!r} is not an ISO 8601 time in range") from None
    if not _EARLIEST_NOW <= parsed <= _LATEST_NOW:
        raise ConfigurationError("--now must be between 1970 and 9000")
    return parsed


# The file or standard input read whole up to this cap (the validation's own size limits apply after it: a
# SAMLResponse is at most SecurityPolicy.max_message_bytes of XML, 256 KiB by default, in base64 or not).
_MAX_INPUT_BYTES = 64 * 1024 * 1024


def _read(path: str) -> bytes:
    if path == "-":
        return read_stdin(limit=_MAX_INPUT_BYTES)
    return read_file(path, limit=_MAX_INPUT_BYTES)


def _emit(args: argparse.Namespace, doc: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(terminal_safe(text))


def run(args: argparse.Namespace) -> int:
    """Implement the command; never raises for bad input."""
    try:
        now = _parse_now(args.now)
        if not 0 <= args.clock_skew <= 3600:
            raise ConfigurationError("--clock-skew must be between 0 and 3600 seconds")
        policy = SecurityPolicy(
            clock_skew=timedelta(seconds=args.clock_skew),
            allow_sha1=args.allow_sha1,
            allow_unsolicited=args.request_id is None,
        )
        sp = SPConfig(entity_id=args.sp_entity_id, acs_url=args.acs_url, policy=policy)
        message = _read(args.file)
        signers = read_certificates(args.metadata_signer) if args.metadata_signer else None
        document = load_document(args.idp_metadata, now=now, signers=signers)
        idp = select_idp(
            document,
            now=now,
            entity_id=args.idp_entity_id,
            hint=lambda: untrusted_issuer(message, policy.max_message_bytes),
        )
    except ConfigurationError as exc:
        _emit(
            args,
            {"ok": False, "error": "configuration-error", "message": exc.message},
            f"configuration error: {exc.message}",
        )
        return EXIT_CONFIG
    try:
        store = open_store(args.store)
    except ConfigurationError as exc:
        _emit(
            args,
            {"ok": False, "error": "configuration-error", "message": exc.message},
            f"configuration error: {exc.message}",
        )
        return EXIT_CONFIG
    except StoreError as exc:  # a valid URL whose database cannot be opened
        _emit(args, {"ok": False, "error": "store-error", "message": exc.message}, f"store error: {exc.message}")
        return EXIT_CONFIG
    try:
        result = validate_response(message, sp=sp, idp=idp, now=now, store=store, request_id=args.request_id)
    except ResponseRejected as exc:
        _emit(
            args,
            {"ok": False, "error": exc.code.value, "message": exc.message},
            f"REJECTED  {exc.code.value}\n  {exc.message}" + (f"\n  detail: {exc.detail}" if exc.detail else ""),
        )
        return EXIT_REJECTED
    except (StoreError, ConfigurationError) as exc:
        _emit(args, {"ok": False, "error": "store-error", "message": exc.message}, f"store error: {exc.message}")
        return EXIT_CONFIG
    finally:
        store.close()
    doc: dict[str, Any] = {
        "ok": True,
        "issuer": result.issuer,
        "name_id": result.name_id,
        "name_id_format": result.name_id_format,
        "session_index": result.session_index,
        "in_response_to": result.in_response_to,
        "attributes": {k: list(v) for k, v in result.attributes.items()},
    }
    lines = [
        "ACCEPTED",
        f"  issuer          {result.issuer}",
        f"  name_id         {result.name_id}",
        f"  name_id_format  {result.name_id_format}",
        f"  session_index   {result.session_index}",
        f"  in_response_to  {result.in_response_to}",
    ]
    lines += [f"  attribute       {k} = {list(v)}" for k, v in result.attributes.items()]
    _emit(args, doc, "\n".join(lines))
    return EXIT_ACCEPTED
