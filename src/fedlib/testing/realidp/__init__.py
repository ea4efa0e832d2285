"""A real SAML 2.0 IdP that nobody here wrote, as a server on 127.0.0.1 (TEST USE ONLY).

Two products, one interface (:class:`RealIdP`):

* **SimpleSAMLphp** (Debian 12's ``simplesamlphp`` 1.19, served by ``php -S``):
  :class:`fedlib.testing.realidp.simplesamlphp.SimpleSAMLphpIdP`.
* **pysaml2's IdP** (``saml2.server.Server`` with its xmlsec1 backend, behind a minimal WSGI front; for
  Debian 13, which does not ship SimpleSAMLphp): :class:`fedlib.testing.realidp.pysaml2_idp.PySAML2IdP`.
  pysaml2 runs in its own interpreter (``FEDLIB_PYSAML2_PYTHON`` or ``.venv-pysaml2``): it pins an older
  ``cryptography`` than fedlib's, and the IdP is another product, so it never shares fedlib's venv.

Both are configured from nothing in a temp dir: a throw-away IdP key, the :data:`USERS` (eduPerson
attributes under their ``urn:oid:`` names, NameFormat uri, and a per-user AuthnContextClassRef), Response
signing on with RSA-SHA256 (assertion unsigned), Single Logout enabled (logout messages signed), and the
SP's own metadata. Each binds 127.0.0.1 on a free port, is addressed as ``http://localhost:<port>`` (another
site than an app on 127.0.0.1), is ready only once a real login has produced a Response, and is stopped
by PID. :func:`available_idps` says which products this machine has; :func:`start_idp` starts one::

    with start_idp("simplesamlphp", tmp_path, sp_metadata) as idp:
        trust = parse_idp_metadata(idp.metadata_xml(), now=now)
        client = LoginClient()
        form = client.idp_initiated(idp, sp_entity_id, USERS[0])
"""

from __future__ import annotations

from fedlib.testing.realidp.base import (
    AC_MFA,
    AC_PASSWORD_PROTECTED_TRANSPORT,
    EDUPERSON_OIDS,
    IDP_HOST,
    KINDS,
    USERS,
    IdPUser,
    Kind,
    RealIdP,
    RealIdPError,
    available_idps,
    start_idp,
)
from fedlib.testing.realidp.client import LoginClient, PostedForm

__all__ = [
    "AC_MFA",
    "AC_PASSWORD_PROTECTED_TRANSPORT",
    "EDUPERSON_OIDS",
    "IDP_HOST",
    "KINDS",
    "USERS",
    "IdPUser",
    "Kind",
    "LoginClient",
    "PostedForm",
    "RealIdP",
    "RealIdPError",
    "available_idps",
    "start_idp",
]
