"""``fedlib matrix``: evaluate and print the support matrix.

    fedlib matrix [--config FILE] [--format text|markdown|json|html] [--output FILE] [--profiles-only]

Without --config the bundled default (every vendor profile, apps web/studio/agent) is evaluated. Every
verdict comes from running the flow against the test IdP configured as the vendor, except rows backed by
a real IdP product (``real = "simplesamlphp"``): when that product is installed here, their as-configured
flows run against it, started on 127.0.0.1 for the run (--profiles-only: never). Exit 0 when the matrix
was computed (whatever its verdicts), 2 on a bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fedlib._files import open_for_writing
from fedlib.errors import ConfigurationError

EXIT_OK = 0
EXIT_CONFIG = 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "matrix",
        help="compute the application / IdP / protocol support matrix by running the flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="a TOML matrix definition (default: the bundled one)")
    p.add_argument("--format", choices=("text", "markdown", "json", "html"), default="text")
    p.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument(
        "--profiles-only",
        action="store_true",
        help="run every row against its vendor profile, even where a real IdP product is installed",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the matrix drives the test IdP (signxml etc.), which other subcommands never need.
    try:
        from fedlib.matrix.flows import default_config, run_matrix
    except ModuleNotFoundError as exc:  # signxml: the `testing` extra is not installed
        if exc.name != "signxml":
            raise
        print(f"fedlib matrix: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from fedlib.matrix.model import MatrixConfig
    from fedlib.matrix.render import RENDERERS, render_text

    try:
        config = MatrixConfig.from_toml(args.config) if args.config else default_config()
    except ConfigurationError as exc:
        print(f"fedlib matrix: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    cells = run_matrix(config, real_idps=not args.profiles_only)
    if args.format == "text":
        colour = args.output is None and sys.stdout.isatty()
        text = render_text(cells, colour=colour)
    else:
        text = RENDERERS[args.format](cells)
    if args.output:
        try:
            with open_for_writing(args.output) as f:
                f.write(text.encode("utf-8"))
        except ConfigurationError as exc:
            print(f"fedlib matrix: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except OSError as exc:
            print(f"fedlib matrix: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIG
    else:
        sys.stdout.write(text)
    return EXIT_OK
