"""The ``fedlib`` command line (stdlib argparse only). Adapters read files; the core gets bytes.

Exit statuses (every subcommand; ``fedlib --help`` says the same):

- 0: accepted / done;
- 1: the message was rejected (``check-response``);
- 2: usage, configuration or store error (``--json``: ``"error": "configuration-error"`` or
  ``"store-error"``);
- 3: an internal error (a fedlib bug): one line on standard error, never a traceback
  (``--json``: ``"error": "internal-error"``); set ``FEDLIB_TRACEBACK=1`` to see the traceback;
- 141 (128 + SIGPIPE): standard output was closed early (``fedlib matrix | head``); nothing more is
  printed.

With ``--json`` the one JSON object is printed on standard output in every case, errors included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from fedlib.cli import check_metadata, check_response, import_python3_saml, matrix, metadata
from fedlib.cli._text import terminal_safe
from fedlib.errors import FedlibError, ResponseRejected, StoreError

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_CONFIG = 2
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 141

_EPILOG = (
    "exit status: 0 accepted/ok, 1 rejected, 2 usage, configuration or store error, 3 internal error "
    "(a fedlib bug; FEDLIB_TRACEBACK=1 shows the traceback), 141 standard output closed early"
)


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error with ``--json`` also prints the JSON object on stdout."""

    json_output = False

    def error(self, message: str) -> NoReturn:
        if _Parser.json_output:
            _print_json({"ok": False, "error": "configuration-error", "message": f"usage: {message}"})
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fedlib", description="fedlib: a strict SAML 2.0 service provider.", epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"fedlib {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_response.register(sub)
    check_metadata.register(sub)
    matrix.register(sub)
    metadata.register(sub)
    import_python3_saml.register(sub)
    return parser


def _version() -> str:
    """The installed distribution's version (importlib.metadata; pyproject.toml is the one place it is set)."""
    import fedlib

    return fedlib.__version__


def _print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, ensure_ascii=False))


def _report(args: argparse.Namespace | None, doc: dict[str, Any], text: str) -> None:
    """Tell the user: the JSON object on stdout with ``--json``, else one line on stderr."""
    if args is not None and getattr(args, "json", False):
        _print_json(doc)
    else:
        print(terminal_safe(f"fedlib: {text}"), file=sys.stderr)


def _run(argv: list[str] | None) -> int:
    args: argparse.Namespace | None = None
    try:
        for stream in (sys.stdout, sys.stderr):
            # Arguments decoded with surrogateescape (non-UTF-8 argv) must not crash a print: escape them.
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="backslashreplace")
        parser = build_parser()
        _Parser.json_output = "--json" in (argv if argv is not None else sys.argv[1:])
        args = parser.parse_args(argv)
        status: int = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the guard
        return status
    except ResponseRejected as exc:
        _report(args, {"ok": False, "error": exc.code.value, "message": exc.message}, f"rejected: {exc}")
        return EXIT_REJECTED
    except StoreError as exc:
        _report(args, {"ok": False, "error": "store-error", "message": exc.message}, f"store error: {exc}")
        return EXIT_CONFIG
    except FedlibError as exc:  # ConfigurationError (and any future non-rejection error): exit 2
        doc = {"ok": False, "error": "configuration-error", "message": exc.message}
        _report(args, doc, f"configuration error: {exc}")
        return EXIT_CONFIG
    finally:
        _Parser.json_output = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (see the module doc: 0, 1, 2, 3 or 141). Never raises except
    ``SystemExit`` from argparse (usage errors: 2, ``--help``: 0)."""
    arguments = list(argv) if argv is not None else None
    try:
        # A command-line tool speaks for itself: Python's own warnings (cryptography's deprecation of certificates
        # whose serial number is not positive, which real IdPs still use) are not printed between its reports.
        # Scoped to this call, so that a program running main() in process keeps its own warning filters.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _run(arguments)
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as exc:  # the last line of defence: never a traceback for the user
        if os.environ.get("FEDLIB_TRACEBACK"):
            raise
        message = f"internal error ({type(exc).__name__}); this is a fedlib bug, please report it"
        try:
            if "--json" in (arguments if arguments is not None else sys.argv[1:]):
                _print_json({"ok": False, "error": "internal-error", "message": message})
            else:
                print(f"fedlib: {message}", file=sys.stderr)
            sys.stdout.flush()
        except BrokenPipeError:
            return _broken_pipe()
        return EXIT_INTERNAL


def _broken_pipe() -> int:
    """Standard output was closed early. As the Python docs advise (signal module, "Note on SIGPIPE"),
    point stdout at devnull so that the interpreter's flush at exit does not fail again; exit quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (captured): nothing to redirect
        pass
    return EXIT_BROKEN_PIPE


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
