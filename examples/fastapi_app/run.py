"""Run the FastAPI example under uvicorn (127.0.0.1) against two bundled test IdPs (localhost; SQLite store).

Like examples/flask_app/run.py: a scripted browser first logs in (SP-initiated through the generic test
IdP; the Entra-default IdP, refused with a 403 and the code; a Response posted from another browser,
refused as login CSRF), then the app serves until Ctrl-C. ``--check`` exits after the self-check.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.fastapi_app.stack import build_stack
from examples.flask_app.run import self_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the self-check and exit")
    parser.add_argument("--port", type=int, default=8000, help="port of the example app (default 8000; 0: any)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the IdPs' request lines are noise here
    with tempfile.TemporaryDirectory(prefix="fedlib-fastapi-demo-") as tmp:
        stack = build_stack(Path(tmp), app_port=args.port)
        try:
            stack.start()
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        try:
            print(f"fedlib FastAPI demo: {stack.app_url} (uvicorn), store sqlite in {tmp}")
            print("self-check (a scripted browser):")
            ok = self_check(stack)
            if args.check or not ok:
                return 0 if ok else 1
            print(f"\nOpen {stack.app_url}/ in a browser. Ctrl-C stops.")
            try:
                stack.threads[-1].join()
            except KeyboardInterrupt:
                print("\nstopped")
            return 0
        finally:
            stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
