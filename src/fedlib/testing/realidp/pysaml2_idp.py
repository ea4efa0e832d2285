"""pysaml2's IdP (``saml2.server.Server`` with its xmlsec1 backend) as a server on 127.0.0.1.

For machines without SimpleSAMLphp (Debian 13 does not ship it). The WSGI front
(:mod:`fedlib.testing.realidp._pysaml2_server`) runs in pysaml2's own interpreter: pysaml2 7.5 pins an
older ``cryptography`` than fedlib uses, so it lives in a venv of its own (``make realidp-venv`` builds
``.venv-pysaml2``). Which interpreter: ``$FEDLIB_PYSAML2_PYTHON``, else ``.venv-pysaml2/bin/python`` in
the current directory or the repository, else this interpreter if it can import ``saml2``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from fedlib.testing.keys import generate_key
from fedlib.testing.realidp.base import LOOPBACK, Kind, RealIdP

SERVER_SCRIPT = Path(__file__).with_name("_pysaml2_server.py")
VENV_NAME = ".venv-pysaml2"
ENV_PYTHON = "FEDLIB_PYSAML2_PYTHON"


def _candidates() -> list[str]:
    out = []
    if os.environ.get(ENV_PYTHON):
        out.append(os.environ[ENV_PYTHON])
    for root in (Path.cwd(), Path(__file__).resolve().parents[4]):
        out.append(str(root / VENV_NAME / "bin" / "python"))
    out.append(sys.executable)
    return out


@functools.cache
def _probe(python: str) -> str | None:
    """pysaml2's version under ``python``, or None."""
    if not os.access(python, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [python, "-c", "import saml2.server, importlib.metadata as m; print(m.version('pysaml2'))"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode().strip() if done.returncode == 0 else None


def python() -> tuple[str, str] | None:
    """(interpreter, pysaml2 version) of the first interpreter that has pysaml2, or None."""
    for candidate in _candidates():
        found = _probe(candidate)
        if found:
            return candidate, found
    return None


def missing() -> str | None:
    """Why pysaml2's IdP cannot run here, or None."""
    if shutil.which("xmlsec1") is None:
        return "no xmlsec1 (apt-get install xmlsec1)"
    if python() is None:
        return f"no interpreter with pysaml2 (make realidp-venv, or set {ENV_PYTHON})"
    return None


class PySAML2IdP(RealIdP):
    kind: Kind = "pysaml2"

    @property
    def product(self) -> str:
        found = python()
        return f"pysaml2 {found[1] if found else '?'} IdP (saml2.server.Server, xmlsec1)"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/idp/metadata"

    @property
    def metadata_url(self) -> str:
        return self.entity_id

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/slo/redirect"

    @property
    def logout_url(self) -> str:
        return f"{self.base_url}/slo/initiate"

    @property
    def logged_out_url(self) -> str:
        return f"{self.base_url}/slo/done"

    def idp_initiated_url(self, sp_entity_id: str) -> str:
        from urllib.parse import urlencode

        return f"{self.base_url}/sso/initiate?" + urlencode({"sp": sp_entity_id})

    def _configure(self) -> None:
        key = generate_key(common_name=f"pysaml2 test IdP {self.port}")
        (self.workdir / "idp.key").write_bytes(key.key_pem)
        (self.workdir / "idp.crt").write_bytes(key.cert_pem)
        (self.workdir / "sp-metadata.xml").write_bytes(self.sp_metadata)
        settings = {
            "host": LOOPBACK,
            "port": self.port,
            "base_url": self.base_url,
            "key_file": str(self.workdir / "idp.key"),
            "cert_file": str(self.workdir / "idp.crt"),
            "sp_metadata": str(self.workdir / "sp-metadata.xml"),
            "xmlsec_binary": shutil.which("xmlsec1") or "xmlsec1",
            "users": [
                {
                    "username": u.username,
                    "password": u.password,
                    "attributes": {k: list(v) for k, v in u.attributes.items()},
                    "authn_context": u.authn_context,
                }
                for u in self.users
            ],
        }
        (self.workdir / "idp.json").write_text(json.dumps(settings, indent=2))

    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        found = python()
        interpreter = found[0] if found else sys.executable
        return [interpreter, str(SERVER_SCRIPT), str(self.workdir / "idp.json")], {"PYTHONDONTWRITEBYTECODE": "1"}


__all__ = ["ENV_PYTHON", "PySAML2IdP", "missing", "python"]
