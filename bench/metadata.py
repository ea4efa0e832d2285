"""How long does loading a signed federation aggregate take, and how much memory? fedlib against the floor.

A synthetic signed ``md:EntitiesDescriptor`` (``--entities`` IdPs, default 10,000, each with a 2048-bit
RSA certificate, SSO/SLO endpoints and ``--padding`` bytes of mdui-like text; the default is about 44 MB,
the size in issue #10) is loaded (parse, verify, index every entity) and three IdPs are taken from it:

* fedlib  ``load_metadata_document(xml, now=..., signed_by=[federation])`` then ``.idp(entity_id)`` x 3:
          hardened parse, the signature profile, trust, c14n + digest + RSA verify, the entity index,
          validUntil checks, three IdPMetadata with their certificates
* floor   lxml parse (huge_tree) + exclusive c14n of the document without its Signature + SHA-256 +
          c14n(SignedInfo) + RSA verify + a dict of entityID -> element + three certificates loaded:
          the least any correct loader must do
* xmlsec  python-xmlsec (libxmlsec1): lxml parse + ``add_ids`` + ``SignatureContext.verify`` + the same
          dict and certificates. python-xmlsec's wheel bundles its own libxml2, which must be the one
          lxml was built with: fedlib's dev venv has a newer lxml, so this row runs under the interpreter
          of a venv of its own, ``--xmlsec-python`` (default ``.venv-bench/bin/python``, built by
          ``make bench-venv`` with pinned ``lxml==6.1.3 xmlsec==1.3.17``; fedlib's ``src`` is put on its
          path so that it imports the same modules before the timed region). Without that interpreter,
          or where ``import xmlsec`` fails in it, the row is left out and the output says why.

fedlib's structural pass on the aggregate is ``fedlib._xml.limits.check_large_document`` (every limit of
``check_structure`` in fewer C-level passes, collecting the entities and the attributes equal to the
root's ID on the way: the ID check is no index of every ID, see ``fedlib.metadata.idp._verify_aggregate``),
and the digest is fed from libxml2's c14n writer chunk by chunk (``verify_enveloped_signature(...,
stream_digest=True)``), so the 44 MB canonical form is never held in memory at once, unlike the floor.

Each row runs in its own subprocess (``--rounds`` times, rows interleaved, the median is shown) so that
its peak RSS (``VmHWM``, see ``peak_rss_kib``) is its own; time is the process's CPU time
(``time.process_time``), which a busy shared machine disturbs far less than wall time.
The last line is machine-readable:
``ratios: time fedlib/floor=X.XX rss fedlib/floor=Y.YY``.

Usage: ``python bench/metadata.py [--entities N] [--padding BYTES] [--rounds R] [--quick] [--xmlsec-python PATH]``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def entity_id(i: int) -> str:
    return f"https://idp{i}.uni{i % 97}.example.org/idp/shibboleth"


def build(directory: Path, entities: int, padding: int) -> tuple[Path, Path, list[str]]:
    """Write the signed aggregate and the federation certificate; return their paths and the chosen IdPs."""
    from lxml import etree

    from fedlib.clock import format_instant
    from fedlib.testing import default_key
    from fedlib.testing.responses import sign_element

    fed, idp = default_key(label="bench-federation"), default_key(label="bench-idp")
    cert = idp.cert_b64
    filler = ("Example University of Somewhere, Faculty of Things " * (padding // 50 + 1))[:padding]
    parts = [
        f'<md:EntitiesDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" ID="_agg" Name="bench" '
        f'validUntil="{format_instant(NOW + timedelta(days=14))}">'
    ]
    for i in range(entities):
        eid = entity_id(i)
        parts.append(
            f'<md:EntityDescriptor entityID="{eid}"><md:IDPSSODescriptor '
            f'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f'<md:Extensions><md:Description xmlns:md="{MD}">{filler}</md:Description></md:Extensions>'
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}'
            f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            f'<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{eid}/slo"/>'
            f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{eid}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
        )
    parts.append("</md:EntitiesDescriptor>")
    root = etree.fromstring("".join(parts).encode(), etree.XMLParser(huge_tree=True))
    sign_element(root, fed)
    path = directory / "aggregate.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    cert_path = directory / "federation.pem"
    cert_path.write_bytes(fed.cert_pem)
    return path, cert_path, [entity_id(i) for i in (0, entities // 2, entities - 1)]


def run_fedlib(xml: bytes, cert_pem: bytes, chosen: list[str]) -> None:
    from cryptography import x509

    from fedlib.metadata.document import load_metadata_document

    signer = x509.load_pem_x509_certificate(cert_pem)
    document = load_metadata_document(xml, now=NOW, signed_by=[signer])
    idps = [document.idp(e, now=NOW) for e in chosen]
    assert [i.entity_id for i in idps] == chosen


def run_floor(xml: bytes, cert_pem: bytes, chosen: list[str]) -> None:
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    root = etree.fromstring(xml, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True))
    signature = root.find(f"{{{DS}}}Signature")
    assert signature is not None
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    assert signed_info is not None
    signed_info_c14n = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
    value = base64.b64decode("".join((signature.findtext(f"{{{DS}}}SignatureValue") or "").split()))
    digest_value = base64.b64decode(signed_info.findtext(f".//{{{DS}}}DigestValue") or "")
    root.remove(signature)
    body = etree.tostring(root, method="c14n", exclusive=True, with_comments=False)
    assert hashlib.sha256(body).digest() == digest_value
    public_key.verify(value, signed_info_c14n, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg]
    index = {e.get("entityID"): e for e in root.iter(f"{{{MD}}}EntityDescriptor")}
    for e in chosen:
        text = index[e].findtext(f".//{{{DS}}}X509Certificate") or ""
        x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))


def run_xmlsec(xml: bytes, cert_pem: bytes, chosen: list[str]) -> None:
    import xmlsec  # type: ignore[import-not-found, unused-ignore]
    from cryptography import x509
    from lxml import etree

    root = etree.fromstring(xml, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True))
    xmlsec.tree.add_ids(root, ["ID"])
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    context.verify(signature)
    index = {e.get("entityID"): e for e in root.iter(f"{{{MD}}}EntityDescriptor")}
    for e in chosen:
        text = index[e].findtext(f".//{{{DS}}}X509Certificate") or ""
        x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))


REPO = Path(__file__).resolve().parent.parent
DEFAULT_XMLSEC_PYTHON = REPO / ".venv-bench" / "bin" / "python"
_XMLSEC_PROBE = (
    "import json, lxml.etree as e, xmlsec; xmlsec.SignatureContext(); "
    "print(json.dumps([xmlsec.__version__, '.'.join(map(str, e.LXML_VERSION[:3])), "
    "'.'.join(map(str, xmlsec.get_libxml_version()))]))"
)


def child_env() -> dict[str, str]:
    """The environment of every row's process: fedlib importable from the same source tree as here (the
    xmlsec row's interpreter has no fedlib installed)."""
    import fedlib

    src = str(Path(fedlib.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def xmlsec_probe(python: Path | None) -> tuple[str | None, str]:
    """(why python-xmlsec cannot run with ``python``, or None; what it is), asked in a fresh process (a
    failed import of a C extension can leave the interpreter in a bad state)."""
    if python is None or not Path(python).exists():
        where = python or DEFAULT_XMLSEC_PYTHON
        return f"no interpreter with python-xmlsec at {where} (make bench-venv, or --xmlsec-python PATH)", ""
    out = subprocess.run([str(python), "-c", _XMLSEC_PROBE], capture_output=True, text=True, env=child_env())
    if out.returncode == 0:
        version, lxml_version, libxml = json.loads(out.stdout.strip().splitlines()[-1])
        return None, f"python-xmlsec {version} (libxml2 {libxml}, lxml {lxml_version}) under {python}"
    lines = out.stderr.strip().splitlines()
    return f"{python}: {lines[-1] if lines else f'exit status {out.returncode}'}", ""


ROWS = {"fedlib": run_fedlib, "floor": run_floor, "xmlsec": run_xmlsec}


def etree_version() -> tuple[int, ...]:
    from lxml import etree

    return tuple(etree.LXML_VERSION[:3])


def peak_rss_kib(fallback: int) -> int:
    """This process's own peak RSS: Linux's VmHWM (the high-water mark of this address space, new at exec).
    Not ``ru_maxrss``: Linux carries it across fork + exec, so a child would report at least the RSS of
    the parent at fork time (here the parent that built and signed the aggregate, ~470 MiB), the same for
    every row, hiding the difference."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return fallback


def child(row: str, path: str, cert: str, chosen: list[str]) -> None:
    import resource

    # Both rows import the same modules before the timed region (same RSS baseline, no import cost timed).
    import cryptography.hazmat.primitives.asymmetric.padding  # noqa: F401
    import lxml.etree  # noqa: F401

    import fedlib.metadata.document  # noqa: F401

    xml = Path(path).read_bytes()
    cert_pem = Path(cert).read_bytes()
    start = time.process_time()  # CPU time: a shared 2-core machine makes wall time too noisy
    ROWS[row](xml, cert_pem, chosen)
    elapsed = time.process_time() - start
    rss_kib = peak_rss_kib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"seconds": elapsed, "rss_kib": rss_kib}))


def measure_once(row: str, path: Path, cert: Path, chosen: list[str], python: str) -> tuple[float, float]:
    out = subprocess.run(
        [python, __file__, "--child", row, str(path), str(cert), json.dumps(chosen)],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if out.returncode != 0:
        raise SystemExit(f"{row} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["rss_kib"])


def measure(
    path: Path, cert: Path, chosen: list[str], rounds: int, rows: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Rows (name -> interpreter) interleaved round by round, so that a slow phase of a shared machine hits
    them all."""
    samples: dict[str, list[tuple[float, float]]] = {row: [] for row in rows}
    for _ in range(rounds):
        for row in samples:
            samples[row].append(measure_once(row, path, cert, chosen, rows[row]))
    return {
        row: (statistics.median(s for s, _ in values), statistics.median(r for _, r in values))
        for row, values in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--padding", type=int, default=2600, help="bytes of description text per entity")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="500 entities, 1 round")
    parser.add_argument(
        "--xmlsec-python",
        type=Path,
        default=DEFAULT_XMLSEC_PYTHON if DEFAULT_XMLSEC_PYTHON.exists() else None,
        help="the interpreter of the python-xmlsec row (default .venv-bench/bin/python, from make bench-venv)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        row, path, cert, chosen = args.child
        child(row, path, cert, json.loads(chosen))
        return 0
    if args.quick:
        args.entities, args.rounds = 500, 1
    with tempfile.TemporaryDirectory(prefix="fedlib-bench-md-") as tmp:
        path, cert, chosen = build(Path(tmp), args.entities, args.padding)
        size = path.stat().st_size
        print(f"aggregate: {args.entities} IdPs, {size / 1e6:.1f} MB, signed; 3 IdPs taken; {args.rounds} round(s)")
        problem, what = xmlsec_probe(args.xmlsec_python)
        if problem is not None:
            print(f"python-xmlsec: NOT MEASURED: {problem}")
        else:
            print(f"xmlsec row: {what}; fedlib and floor: lxml {'.'.join(map(str, etree_version()))}")
        names = {"fedlib": sys.executable, "floor": sys.executable}
        if problem is None:
            names["xmlsec"] = str(args.xmlsec_python)
        rows = measure(path, cert, chosen, args.rounds, names)
    print(f"{'row':8} {'CPU s':>9} {'peak RSS MiB':>13}")
    for row, (seconds, rss_kib) in rows.items():
        print(f"{row:8} {seconds:9.3f} {rss_kib / 1024:13.1f}")
    (ft, fr), (lt, lr) = rows["fedlib"], rows["floor"]
    if "xmlsec" in rows:
        xt, xr = rows["xmlsec"]
        print(f"python-xmlsec: time xmlsec/floor={xt / lt:.2f} rss xmlsec/floor={xr / lr:.2f}")
    print(f"ratios: time fedlib/floor={ft / lt:.2f} rss fedlib/floor={fr / lr:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
