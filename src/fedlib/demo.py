"""``make demo`` / ``python -m fedlib.demo``: a scripted end-to-end run on the embedded default store.

Until the Flask example exists, the demo plays both sides in one process: fedlib.testing acts as the IdP
(a fresh TEST key, its metadata, a signed Response), and fedlib validates what it minted as an SP would,
on an SQLite replay store. Then it shows the rejections a real deployment meets most often. Exit status 0
when every step behaved as expected.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.stores.url import open_store
from fedlib.testing import ResponseSpec, generate_key, idp_metadata_xml, mint_response
from fedlib.validation.pipeline import validate_response

IDP = "https://idp.demo.fedlib.test/metadata"
SP = "https://app.demo.fedlib.test/saml/metadata"
ACS = "https://app.demo.fedlib.test/saml/acs"


@dataclass(frozen=True)
class Step:
    title: str
    message: bytes
    expect: ErrorCode | None
    request_id: str | None = None


def main() -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    print("fedlib demo: a test IdP signs, fedlib (the SP) verifies\n")
    key = generate_key("rsa", common_name="fedlib demo IdP (TEST KEY)")
    idp = parse_idp_metadata(idp_metadata_xml(IDP, [key], sso_url="https://idp.demo.fedlib.test/sso"), now=now)
    print(f"IdP   {idp.entity_id}\n      signing certificate SHA-256 {idp.trust.fingerprints()[0]}")
    sp = SPConfig(entity_id=SP, acs_url=ACS, policy=SecurityPolicy(allow_unsolicited=False))
    print(f"SP    {sp.entity_id}\n      ACS {sp.acs_url}")

    def spec(**kw: object) -> ResponseSpec:
        base: dict[str, object] = {
            "idp_entity_id": IDP,
            "sp_entity_id": SP,
            "acs_url": ACS,
            "now": now,
            "name_id": "ada@example.org",
            "in_response_to": "_demo_request_1",
            "attributes": {"mail": ["ada@example.org"], "groups": ["admins", "staff"]},
        }
        base.update(kw)
        return ResponseSpec(**base)  # type: ignore[arg-type]

    good = base64.b64encode(mint_response(spec(), key))
    steps = [
        Step("SP-initiated login, Response signed by the IdP", good, None, "_demo_request_1"),
        Step("the same Response posted again", good, ErrorCode.REPLAYED, "_demo_request_1"),
        Step(
            "IdP signs only the Assertion (Entra ID / AD FS default)",
            mint_response(spec(in_response_to="_demo_request_2"), key, sign_response=False, sign_assertion=True),
            ErrorCode.ASSERTION_ONLY_SIGNATURE,
            "_demo_request_2",
        ),
        Step(
            "Response for another SP",
            mint_response(spec(audiences=["https://other.example/"], in_response_to="_demo_request_3"), key),
            ErrorCode.WRONG_AUDIENCE,
            "_demo_request_3",
        ),
        Step(
            "Response signed by a key the metadata does not list",
            mint_response(spec(in_response_to="_demo_request_4"), generate_key("ec", common_name="attacker")),
            ErrorCode.UNTRUSTED_CERTIFICATE,
            "_demo_request_4",
        ),
    ]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="fedlib-demo-") as tmp:
        store_url = "sqlite:///" + str(Path(tmp) / "fedlib.db")
        store = open_store(store_url)
        print(f"Store {store_url}  (embedded SQLite, nothing to run)\n")
        try:
            for number, step in enumerate(steps, 1):
                print(f"{number}. {step.title}")
                try:
                    result = validate_response(
                        step.message, sp=sp, idp=idp, now=now, store=store, request_id=step.request_id
                    )
                except ResponseRejected as exc:
                    ok = exc.code == step.expect
                    print(f"   {'ok  ' if ok else 'FAIL'} rejected: {exc.code}\n        {exc.message[:160]}")
                else:
                    ok = step.expect is None
                    attrs = ", ".join(f"{k}={list(v)}" for k, v in result.attributes.items())
                    print(f"   {'ok  ' if ok else 'FAIL'} accepted: {result.name_id}  ({attrs})")
                failures += not ok
        finally:
            store.close()
    print(f"\n{len(steps) - failures} of {len(steps)} steps behaved as expected.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
