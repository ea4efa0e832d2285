"""``fedlib metadata``: print this SP's SAML 2.0 metadata, for an IdP administrator to import.

::

    fedlib metadata --entity-id URI --acs-url URL [--acs-url URL ...] [--slo-url URL]
        [--cert PEM ...] [--key PEM] [--sign] [--name-id-format URI ...]
        [--valid-days N] [--cache-duration SECONDS] [--output FILE]

The first ``--acs-url`` is the default (index 0). ``--cert`` may be repeated: the current certificate
first, then the next one during a rollover. ``--key`` (unencrypted PEM, the current certificate's key)
makes AuthnRequestsSigned="true"; ``--sign`` also signs the metadata with it. No encryption key is ever
published. Exit 0 on success, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from fedlib._files import SMALL_FILE_BYTES, open_for_writing, read_file
from fedlib.config import SPConfig
from fedlib.errors import ConfigurationError
from fedlib.metadata.sp import render_sp_metadata

EXIT_OK = 0
EXIT_CONFIG = 2
_MAX_CACHE_DURATION = 3650 * 86400  # also keeps timedelta() from overflowing


def register(sub: Any) -> None:
    p = sub.add_parser(
        "metadata",
        help="print this SP's SAML metadata (exit 0 ok, 2 configuration error)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--entity-id", required=True, help="this SP's entity ID")
    p.add_argument(
        "--acs-url",
        required=True,
        action="append",
        metavar="URL",
        help="an AssertionConsumerService URL (HTTP-POST); repeat for more, the first is the default",
    )
    p.add_argument("--slo-url", metavar="URL", help="the SingleLogoutService URL (HTTP-Redirect and HTTP-POST)")
    p.add_argument(
        "--cert",
        action="append",
        default=[],
        metavar="PEM",
        help="a signing certificate file (PEM; may hold several); repeat for rollover, current first",
    )
    p.add_argument("--key", metavar="PEM", help="the current certificate's private key (unencrypted PEM)")
    p.add_argument("--sign", action="store_true", help="sign the metadata with --key and the first --cert")
    p.add_argument(
        "--name-id-format", action="append", default=[], metavar="URI", help="a NameIDFormat to publish (repeatable)"
    )
    p.add_argument("--valid-days", type=int, metavar="N", help="set validUntil to now + N days")
    p.add_argument("--cache-duration", type=int, metavar="SECONDS", help="set cacheDuration")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=run)


def _read(path: str) -> bytes:
    return read_file(path, limit=SMALL_FILE_BYTES)


def _certificates(paths: list[str]) -> tuple[x509.Certificate, ...]:
    certificates: list[x509.Certificate] = []
    for path in paths:
        data = _read(path)
        try:
            certificates.extend(x509.load_pem_x509_certificates(data))
        except ValueError:
            raise ConfigurationError(f"{path} holds no PEM certificate") from None
    return tuple(certificates)


def _build(args: argparse.Namespace) -> bytes:
    if args.sign and args.key is None:
        raise ConfigurationError("--sign needs --key (and its certificate as the first --cert)")
    if args.valid_days is not None and not 1 <= args.valid_days <= 3650:
        raise ConfigurationError("--valid-days must be between 1 and 3650")
    if args.cache_duration is not None and not 0 < args.cache_duration <= _MAX_CACHE_DURATION:
        raise ConfigurationError(f"--cache-duration must be between 1 and {_MAX_CACHE_DURATION} seconds (10 years)")
    sp = SPConfig(
        entity_id=args.entity_id,
        acs_url=args.acs_url[0],
        additional_acs_urls=tuple(args.acs_url[1:]),
        slo_url=args.slo_url,
        signing_key=_read(args.key) if args.key is not None else None,
        signing_certificates=_certificates(args.cert),
        name_id_formats=tuple(args.name_id_format),
    )
    # The adapter reads the clock; the core takes the instant.
    valid_until = datetime.now(UTC) + timedelta(days=args.valid_days) if args.valid_days is not None else None
    cache_duration = timedelta(seconds=args.cache_duration) if args.cache_duration is not None else None
    return render_sp_metadata(
        sp,
        valid_until=valid_until,
        cache_duration=cache_duration,
        sign_with=sp.signer if args.sign else None,
    )


def run(args: argparse.Namespace) -> int:
    """Implement the command; never raises for bad input."""
    try:
        xml = _build(args)
        if args.output is not None:
            try:
                with open_for_writing(args.output) as fh:
                    fh.write(xml + b"\n")
            except OSError as exc:
                raise ConfigurationError(f"cannot write {args.output}: {exc.strerror}") from None
        else:
            sys.stdout.buffer.write(xml + b"\n")
            sys.stdout.flush()
    except (ConfigurationError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK
