"""The ``fedlib`` command line (stdlib argparse only). Adapters read files; the core gets bytes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fedlib.cli import check_metadata, check_response, import_python3_saml, matrix, metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlib", description="fedlib: a strict SAML 2.0 service provider.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_response.register(sub)
    check_metadata.register(sub)
    matrix.register(sub)
    metadata.register(sub)
    import_python3_saml.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 accepted/ok, 1 rejected, 2 usage or configuration error)."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    handler = args.handler
    status: int = handler(args)
    return status


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
