"""TEST-ONLY XML Encryption (XML-Enc 1.1), so that fedlib's refusal of encrypted claims is tested on the
structures real IdPs send, not on empty placeholder elements.

An element is encrypted the way SAML IdPs do it (SAML core §2.2.4, §2.3.4, §2.7.3.2): a fresh AES content
key encrypts the serialised element (``Type=...#Element``), the key is wrapped for the recipient's RSA
certificate with RSA-OAEP (MGF1-SHA1, the XML-Enc default), and both go into an ``xenc:EncryptedData``
whose ``ds:KeyInfo`` holds the ``xenc:EncryptedKey``. The caller puts that ``EncryptedData`` into a
``saml:EncryptedAssertion`` / ``saml:EncryptedID`` / ``saml:EncryptedAttribute`` wrapper.

Hand-written on pyca/cryptography because no maintained Python library encrypts XML without libxmlsec1
(python-xmlsec needs a libxml2 that matches lxml's, the most reported SAML install problem). This module
also decrypts, only so that tests can prove the ciphertext is real.
"""

from __future__ import annotations

import base64
import os
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fedlib.constants import NS_DS, qname

NS_XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
ELEMENT_TYPE: Final = NS_XENC + "Element"
RSA_OAEP_MGF1P: Final = NS_XENC + "rsa-oaep-mgf1p"
SHA1_DIGEST: Final = "http://www.w3.org/2000/09/xmldsig#sha1"

ContentAlgorithm = Literal["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"]

CONTENT_ALGORITHM_URI: Final[dict[str, str]] = {
    "aes128-cbc": NS_XENC + "aes128-cbc",
    "aes256-cbc": NS_XENC + "aes256-cbc",
    "aes128-gcm": "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm",
}
_KEY_BYTES: Final = {"aes128-cbc": 16, "aes256-cbc": 32, "aes128-gcm": 16, "aes256-gcm": 32}

_XENC_ENCRYPTED_DATA: Final = qname(NS_XENC, "EncryptedData")
_XENC_ENCRYPTED_KEY: Final = qname(NS_XENC, "EncryptedKey")
_XENC_ENCRYPTION_METHOD: Final = qname(NS_XENC, "EncryptionMethod")
_XENC_CIPHER_DATA: Final = qname(NS_XENC, "CipherData")
_XENC_CIPHER_VALUE: Final = qname(NS_XENC, "CipherValue")
_DS_KEY_INFO: Final = qname(NS_DS, "KeyInfo")
_DS_DIGEST_METHOD: Final = qname(NS_DS, "DigestMethod")
_DS_X509_DATA: Final = qname(NS_DS, "X509Data")
_DS_X509_CERTIFICATE: Final = qname(NS_DS, "X509Certificate")
_OAEP: Final = asym_padding.OAEP(mgf=asym_padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - the XML-Enc default OAEP parameters


def _encrypt_content(algorithm: ContentAlgorithm, key: bytes, plaintext: bytes) -> bytes:
    if algorithm.endswith("gcm"):
        iv = os.urandom(12)
        return iv + AESGCM(key).encrypt(iv, plaintext, None)  # ciphertext || 16-byte tag
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()  # PKCS#7 padding is one valid instance of XML-Enc's padding
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def encrypt_element(
    element: etree._Element,
    recipient: x509.Certificate,
    *,
    algorithm: ContentAlgorithm = "aes256-gcm",
) -> etree._Element:
    """Encrypt ``element`` for ``recipient`` and return the ``xenc:EncryptedData`` (not yet placed anywhere).

    Args:
        element: the element to encrypt (serialised with its in-scope namespaces, as XML-Enc requires).
        recipient: the SP's encryption certificate (RSA).
        algorithm: the content-encryption algorithm (AES-GCM is the Shibboleth IdP v4+ default, AES-CBC
            the older common one).

    Raises:
        ValueError: the recipient key is not RSA or the algorithm is unknown.
    """
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("XML-Enc key transport here is RSA-OAEP: the recipient certificate must hold an RSA key")
    if algorithm not in CONTENT_ALGORITHM_URI:
        raise ValueError(f"unknown content-encryption algorithm {algorithm!r}")
    content_key = os.urandom(_KEY_BYTES[algorithm])
    plaintext = etree.tostring(element, encoding="UTF-8")
    ciphertext = _encrypt_content(algorithm, content_key, plaintext)

    data = etree.Element(_XENC_ENCRYPTED_DATA, nsmap={"xenc": NS_XENC, "ds": NS_DS})
    data.set("Id", "_" + os.urandom(16).hex())
    data.set("Type", ELEMENT_TYPE)
    etree.SubElement(data, _XENC_ENCRYPTION_METHOD).set("Algorithm", CONTENT_ALGORITHM_URI[algorithm])
    key_info = etree.SubElement(data, _DS_KEY_INFO)
    encrypted_key = etree.SubElement(key_info, _XENC_ENCRYPTED_KEY)
    method = etree.SubElement(encrypted_key, _XENC_ENCRYPTION_METHOD)
    method.set("Algorithm", RSA_OAEP_MGF1P)
    etree.SubElement(method, _DS_DIGEST_METHOD).set("Algorithm", SHA1_DIGEST)
    recipient_info = etree.SubElement(etree.SubElement(encrypted_key, _DS_KEY_INFO), _DS_X509_DATA)
    etree.SubElement(recipient_info, _DS_X509_CERTIFICATE).text = base64.b64encode(
        recipient.public_bytes(Encoding.DER)
    ).decode("ascii")
    wrapped = public_key.encrypt(content_key, _OAEP)
    etree.SubElement(etree.SubElement(encrypted_key, _XENC_CIPHER_DATA), _XENC_CIPHER_VALUE).text = base64.b64encode(
        wrapped
    ).decode("ascii")
    etree.SubElement(etree.SubElement(data, _XENC_CIPHER_DATA), _XENC_CIPHER_VALUE).text = base64.b64encode(
        ciphertext
    ).decode("ascii")
    return data


def decrypt_element(encrypted_data: etree._Element, private_key: rsa.RSAPrivateKey) -> etree._Element:
    """Decrypt an ``xenc:EncryptedData`` made by :func:`encrypt_element` (for tests that prove it is real)."""
    method = encrypted_data.find(_XENC_ENCRYPTION_METHOD)
    wrapped_text = encrypted_data.findtext(
        f"{_DS_KEY_INFO}/{_XENC_ENCRYPTED_KEY}/{_XENC_CIPHER_DATA}/{_XENC_CIPHER_VALUE}"
    )
    cipher_text = encrypted_data.findtext(f"{_XENC_CIPHER_DATA}/{_XENC_CIPHER_VALUE}")
    if method is None or wrapped_text is None or cipher_text is None:
        raise ValueError("not an EncryptedData made by encrypt_element")
    by_uri = {uri: name for name, uri in CONTENT_ALGORITHM_URI.items()}
    algorithm = by_uri[method.get("Algorithm") or ""]
    content_key = private_key.decrypt(base64.b64decode(wrapped_text), _OAEP)
    blob = base64.b64decode(cipher_text)
    if algorithm.endswith("gcm"):
        plaintext = AESGCM(content_key).decrypt(blob[:12], blob[12:], None)
    else:
        decryptor = Cipher(algorithms.AES(content_key), modes.CBC(blob[:16])).decryptor()
        padded = decryptor.update(blob[16:]) + decryptor.finalize()
        plaintext = padded[: -padded[-1]]
    return etree.fromstring(plaintext, parser=etree.XMLParser(resolve_entities=False, no_network=True))


__all__ = ["CONTENT_ALGORITHM_URI", "NS_XENC", "ContentAlgorithm", "decrypt_element", "encrypt_element"]
