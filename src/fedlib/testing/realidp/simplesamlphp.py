"""SimpleSAMLphp (Debian 12's ``simplesamlphp`` 1.19) as an IdP on 127.0.0.1, served by ``php -S``.

Everything lives in the work dir: ``config/`` (``config.php``, ``authsources.php``), ``metadata/`` (the
hosted IdP, and the SP's own metadata XML read through the ``xml`` metadata source), ``cert/`` (a
throw-away key), sessions, logs, temp and data dirs, and a docroot whose ``simplesaml`` symlink points at
the package's ``www`` (so URLs carry the usual ``/simplesaml/`` prefix). Users: ``exampleauth:UserPass``;
a ``core:PHP`` authproc moves each user's AuthnContextClassRef from a private attribute into
``$state['saml:AuthnContextClassRef']`` (1.19 has no per-user setting), then ``core:AttributeMap name2oid``
renames the attributes to their ``urn:oid:`` names (NameFormat uri). Logout messages are signed, and
``validate.logout`` makes the IdP refuse the SP's unless they are signed by the SP's metadata certificate.
Session cookies are neither ``Secure`` nor ``SameSite=None``: on plain http the first breaks SSO and
Chromium drops the second.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fedlib.testing.keys import generate_key
from fedlib.testing.realidp.base import LOOPBACK, Kind, RealIdP

SSP_ROOT = Path("/usr/share/simplesamlphp")
ATTRIBUTE_MAP_DIRS = (Path("/etc/simplesamlphp/attributemap"), SSP_ROOT / "attributemap")
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
_AC_ATTRIBUTE = "fedlibAuthnContextClassRef"


def missing() -> str | None:
    """Why SimpleSAMLphp cannot run here, or None."""
    if shutil.which("php") is None:
        return "no php (apt-get install php-cli php-xml php-mbstring php-curl)"
    if not (SSP_ROOT / "www" / "saml2" / "idp" / "SSOService.php").is_file():
        return f"no SimpleSAMLphp in {SSP_ROOT} (Debian 12: apt-get install simplesamlphp)"
    return None


def version() -> str:
    try:
        text = (SSP_ROOT / "lib" / "SimpleSAML" / "Configuration.php").read_text()
    except OSError:
        return "?"
    marker = "const VERSION = '"
    start = text.find(marker)
    return text[start + len(marker) : text.index("'", start + len(marker))] if start >= 0 else "?"


def php(value: Any, indent: str = "") -> str:
    """A Python value (str, bool, None, int, list/tuple, mapping) as a PHP literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    inner = indent + "    "
    if isinstance(value, Mapping):
        items = [f"{inner}{php(k)} => {php(v, inner)}," for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [f"{inner}{php(v, inner)}," for v in value]
    else:
        raise TypeError(f"no PHP literal for {type(value).__name__}")
    return "[\n" + "\n".join(items) + f"\n{indent}]"


class SimpleSAMLphpIdP(RealIdP):
    kind: Kind = "simplesamlphp"

    @property
    def product(self) -> str:
        return f"SimpleSAMLphp {version()}"

    @property
    def prefix(self) -> str:
        return f"{self.base_url}/simplesaml"

    @property
    def entity_id(self) -> str:
        return f"{self.prefix}/saml2/idp/metadata.php"

    @property
    def metadata_url(self) -> str:
        return f"{self.prefix}/saml2/idp/metadata.php"

    @property
    def slo_url(self) -> str:
        return f"{self.prefix}/saml2/idp/SingleLogoutService.php"

    @property
    def logout_url(self) -> str:
        from urllib.parse import urlencode

        return f"{self.slo_url}?" + urlencode({"ReturnTo": self.logged_out_url})

    @property
    def logged_out_url(self) -> str:
        return f"{self.prefix}/logout.php"

    def idp_initiated_url(self, sp_entity_id: str) -> str:
        from urllib.parse import urlencode

        return f"{self.prefix}/saml2/idp/SSOService.php?" + urlencode({"spentityid": sp_entity_id})

    def _attribute_map_dir(self) -> Path:
        for candidate in ATTRIBUTE_MAP_DIRS:
            if (candidate / "name2oid.php").is_file():
                return candidate
        # No package map: write the few entries the users need (name2oid's own format).
        from fedlib.testing.realidp.base import EDUPERSON_OIDS

        own = self.workdir / "attributemap"
        own.mkdir(exist_ok=True)
        (own / "name2oid.php").write_text(f"<?php\n$attributemap = {php(dict(EDUPERSON_OIDS))};\n")
        return own

    def _configure(self) -> None:
        w = self.workdir
        dirs = {name: w / name for name in ("config", "metadata", "cert", "tmp", "log", "data", "sessions", "www")}
        for path in dirs.values():
            path.mkdir(exist_ok=True)
        link = dirs["www"] / "simplesaml"
        if not link.exists():
            link.symlink_to(SSP_ROOT / "www")

        key = generate_key(common_name=f"SimpleSAMLphp test IdP {self.port}")
        (dirs["cert"] / "idp.key").write_bytes(key.key_pem)
        (dirs["cert"] / "idp.crt").write_bytes(key.cert_pem)
        (dirs["metadata"] / "sp-metadata.xml").write_bytes(self.sp_metadata)

        config = {
            "baseurlpath": f"{self.prefix}/",
            "certdir": f"{dirs['cert']}/",
            "loggingdir": f"{dirs['log']}/",
            "datadir": f"{dirs['data']}/",
            "tempdir": str(dirs["tmp"]),
            "metadatadir": f"{dirs['metadata']}/",
            "attributenamemapdir": f"{self._attribute_map_dir()}/",
            "secretsalt": secrets.token_hex(16),
            "auth.adminpassword": secrets.token_hex(16),
            "admin.protectindexpage": True,
            "admin.protectmetadata": False,
            "technicalcontact_name": "fedlib tests",
            "technicalcontact_email": "na@example.org",
            "timezone": "UTC",
            "logging.level": 7,  # SimpleSAML\Logger::DEBUG
            "logging.handler": "file",
            "logging.logfile": "simplesamlphp.log",
            "enable.saml20-idp": True,
            "enable.shib13-idp": False,
            "module.enable": {"exampleauth": True, "core": True, "saml": True, "admin": True},
            "store.type": "phpsession",
            "session.phpsession.savepath": str(dirs["sessions"]),
            "session.phpsession.cookiename": f"SimpleSAML{self.port}",
            "session.cookie.name": f"SimpleSAMLSessionID{self.port}",
            "session.authtoken.cookiename": f"SimpleSAMLAuthToken{self.port}",
            "session.cookie.secure": False,
            "session.cookie.samesite": None,
            "session.cookie.path": "/",
            "language.default": "en",
            "metadata.sources": [
                {"type": "flatfile"},
                {"type": "xml", "file": str(dirs["metadata"] / "sp-metadata.xml")},
            ],
        }
        (dirs["config"] / "config.php").write_text(f"<?php\n$config = {php(config)};\n")

        users: dict[str | int, Any] = {0: "exampleauth:UserPass"}  # the class name is element 0
        for user in self.users:
            attributes = {name: list(values) for name, values in user.attributes.items()}
            attributes[_AC_ATTRIBUTE] = [user.authn_context]
            users[f"{user.username}:{user.password}"] = attributes
        sources = {"admin": ["core:AdminPassword"], "users": users}
        (dirs["config"] / "authsources.php").write_text(f"<?php\n$config = {php(sources)};\n")

        set_context = (
            f"if (isset($attributes['{_AC_ATTRIBUTE}'])) {{"
            f" $state['saml:AuthnContextClassRef'] = $attributes['{_AC_ATTRIBUTE}'][0];"
            f" unset($attributes['{_AC_ATTRIBUTE}']); }}"
        )
        hosted = {
            "host": "__DEFAULT__",
            "privatekey": "idp.key",
            "certificate": "idp.crt",
            "auth": "users",
            "saml20.sign.response": True,
            "saml20.sign.assertion": False,
            "signature.algorithm": RSA_SHA256,
            "sign.logout": True,
            "validate.logout": True,  # the SP's LogoutRequest/LogoutResponse must be signed (off by default)
            "attributes.NameFormat": NAME_FORMAT_URI,
            "authproc": {
                10: {"class": "core:PHP", "code": set_context},
                20: {"class": "core:AttributeMap", 0: "name2oid"},
            },
        }
        (dirs["metadata"] / "saml20-idp-hosted.php").write_text(
            f"<?php\n$metadata[{php(self.entity_id)}] = {php(hosted)};\n"
        )
        for empty in ("saml20-sp-remote.php", "saml20-idp-remote.php"):
            (dirs["metadata"] / empty).write_text("<?php\n")

    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        php_bin = shutil.which("php") or "php"
        argv = [php_bin, "-S", f"{LOOPBACK}:{self.port}", "-t", str(self.workdir / "www")]
        return argv, {"SIMPLESAMLPHP_CONFIG_DIR": str(self.workdir / "config")}


__all__ = ["SimpleSAMLphpIdP", "missing", "php", "version"]
