"""``verify_signature_value`` matches the signature method to the key's type (remembered per key class, not
asked of cryptography's ABCs on every call): RSA methods verify only with RSA keys, ECDSA only with EC
keys, whichever kind of key was seen first, and a mismatch is ``invalid-signature``."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from fedlib.errors import ErrorCode, SignatureRejected
from fedlib.xmldsig import verify
from fedlib.xmldsig.algorithms import SignatureMethod

DATA = b"<SignedInfo/>"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_SHA256 = next(m for m in SignatureMethod if m.value.endswith("rsa-sha256"))
ECDSA_SHA256 = next(m for m in SignatureMethod if m.value.endswith("ecdsa-sha256"))


def _ec_raw(signature: bytes) -> bytes:
    r, s = utils.decode_dss_signature(signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


RSA_SIG = RSA_KEY.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
EC_SIG = _ec_raw(EC_KEY.sign(DATA, ec.ECDSA(hashes.SHA256())))


@pytest.mark.parametrize("first", ["rsa", "ec"])
def test_methods_match_key_types_whichever_key_came_first(first: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "_IS_RSA", {})
    cases = [
        (RSA_SHA256, RSA_KEY.public_key(), RSA_SIG, None),
        (ECDSA_SHA256, EC_KEY.public_key(), EC_SIG, None),
        (RSA_SHA256, EC_KEY.public_key(), RSA_SIG, ErrorCode.INVALID_SIGNATURE),
        (ECDSA_SHA256, RSA_KEY.public_key(), EC_SIG, ErrorCode.INVALID_SIGNATURE),
        (RSA_SHA256, RSA_KEY.public_key(), RSA_SIG[:-1] + bytes([RSA_SIG[-1] ^ 1]), ErrorCode.INVALID_SIGNATURE),
    ]
    if first == "ec":
        cases = cases[1:2] + cases[:1] + cases[2:]
    for _ in range(2):  # the second round uses the remembered answers
        for method, key, signature, code in cases:
            if code is None:
                verify.verify_signature_value(method, key, signature, DATA)
            else:
                with pytest.raises(SignatureRejected) as caught:
                    verify.verify_signature_value(method, key, signature, DATA)
                assert caught.value.code is code
