"""``fedlib import-python3-saml``: convert a python3-saml configuration to a fedlib settings file.

::

    fedlib import-python3-saml settings.json [--advanced advanced_settings.json]
        [--certs-dir DIR] [--output fedlib.toml]

Prints the fedlib TOML (or writes it to --output, readable by its owner only when it holds a private key)
and, on standard error, every python3-saml setting fedlib does not honour and why, then notes. The same
report heads the TOML as comments. --certs-dir is python3-saml's ``certs/`` folder (default: the
``certs`` folder beside settings.json, if there is one), read when the inline certificates or key are
empty. Exit 0 on success, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedlib._files import SMALL_FILE_BYTES, open_for_writing, read_file
from fedlib.errors import ConfigurationError
from fedlib.importers.python3_saml import ImportReport, import_python3_saml

EXIT_OK = 0
EXIT_CONFIG = 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import-python3-saml",
        help="convert python3-saml settings.json to a fedlib TOML settings file (exit 0 ok, 2 error)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("settings", metavar="settings.json", help="python3-saml's settings.json")
    p.add_argument("--advanced", metavar="FILE", help="python3-saml's advanced_settings.json")
    p.add_argument(
        "--certs-dir", metavar="DIR", help="python3-saml's certs folder (default: certs/ beside settings.json)"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the TOML to FILE instead of standard output")
    p.set_defaults(handler=run)


def _read_json(path: str) -> Any:
    raw = read_file(path, limit=SMALL_FILE_BYTES)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not JSON: {exc}") from None


def _write(path: str, text: str, private: bool) -> None:
    try:
        with open_for_writing(path, private=private) as fh:  # mode 0600 for a private one, even if it existed
            fh.write(text.encode("utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from None


def _print_report(report: ImportReport) -> None:
    for setting, reason in report.not_honoured:
        print(f"not honoured  {setting}: {reason}", file=sys.stderr)
    for topic, note in report.notes:
        print(f"note          {topic}: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Implement the command; never raises for bad input."""
    try:
        settings = _read_json(args.settings)
        advanced = _read_json(args.advanced) if args.advanced else None
        if advanced is None:
            sibling = Path(args.settings).parent / "advanced_settings.json"
            if sibling.is_file():
                print(
                    f"warning: {sibling} exists but was not given (--advanced); its settings are not imported",
                    file=sys.stderr,
                )
        candidate = Path(args.certs_dir or Path(args.settings).parent / "certs")
        if args.certs_dir and not candidate.is_dir():
            raise ConfigurationError(f"--certs-dir {args.certs_dir} is not a directory")
        certs_dir = candidate if candidate.is_dir() else None
        if not isinstance(settings, dict) or (advanced is not None and not isinstance(advanced, dict)):
            raise ConfigurationError("python3-saml settings files hold one JSON object")
        report = import_python3_saml(settings, advanced, now=datetime.now(UTC), certs_dir=certs_dir)
        text = report.toml()
        if args.output:
            _write(args.output, text, private="signing_key_pem" in report.data["sp"])
        else:
            sys.stdout.write(text)
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    _print_report(report)
    return EXIT_OK
