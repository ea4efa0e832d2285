"""The README's code runs as written (issue #12 §6): every ```python block is executed (production paths
swapped for temporary ones), the Flask quick starts log a user in, the core quick start accepts a Response,
and the pytest example passes in a fresh project.

A block preceded by ``<!-- test: continues -->`` runs in the namespace the previous block left (it extends
that example); ``<!-- not-tested: <reason> -->`` skips a block (keep those rare: none today).
"""

from __future__ import annotations

import re
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO

from fedlib.testing.idp import TestIdP

pytest_plugins = ["pytester"]

README = (REPO / "README.md").read_text()
_BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    line: int
    code: str
    continues: bool
    skipped: bool


def _blocks() -> list[Block]:
    out = []
    for m in _BLOCK.finditer(README):
        marker = m.group("marker") or ""
        line = README.count("\n", 0, m.start("code")) + 1
        out.append(Block(line, m.group("code"), marker == "test: continues", marker.startswith("not-tested:")))
    return out


BLOCKS = _blocks()


def _localise(source: str, tmp_path: Path) -> str:
    """The README's production paths -> files in tmp_path (the only change made to the code)."""
    source = source.replace('"idp-metadata.xml"', repr(str(tmp_path / "idp-metadata.xml")))
    return re.sub(r"sqlite:////var/lib/[\w/]+\.db", f"sqlite:///{tmp_path / 'fedlib.db'}", source)


def _run(blocks: list[Block], tmp_path: Path) -> list[dict[str, Any]]:
    namespaces: list[dict[str, Any]] = []
    for block in blocks:
        namespace = dict(namespaces[-1]) if block.continues and namespaces else {"__name__": "readme_app"}
        exec(compile(_localise(block.code, tmp_path), f"README.md:{block.line}", "exec"), namespace)  # noqa: S102
        namespaces.append(namespace)
    return namespaces


def test_readme_has_the_blocks_we_test() -> None:
    assert len(BLOCKS) >= 4
    assert not [b.line for b in BLOCKS if b.skipped]  # "keep those rare": none today


def test_every_python_block_runs(tmp_path: Path, saml_idp: TestIdP, pytester: pytest.Pytester) -> None:
    (tmp_path / "idp-metadata.xml").write_bytes(saml_idp.metadata_xml())
    runnable = [b for b in BLOCKS if not b.skipped and "def test_" not in b.code]
    _run(runnable, tmp_path)
    tests = [b for b in BLOCKS if not b.skipped and "def test_" in b.code]
    assert tests
    for i, block in enumerate(tests):
        pytester.makepyfile(**{f"test_readme_{i}": block.code})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=sum(b.code.count("def test_") for b in tests))


def _flask_blocks() -> list[Block]:
    start = README.index("## Quick start: Flask")
    end = README.index("## Quick start: the core")
    return [b for b in BLOCKS if start < README.index(b.code) < end]


def test_readme_flask_quick_start(tmp_path: Path, saml_idp: TestIdP, saml_login: Any) -> None:
    first = _flask_blocks()[0]
    assert len(first.code.strip().splitlines()) <= 25
    (tmp_path / "idp-metadata.xml").write_bytes(saml_idp.metadata_xml())
    (namespace,) = _run([first], tmp_path)
    client = namespace["app"].test_client()
    saml_idp.register_sp("https://app.example.com/saml/metadata", "https://app.example.com/saml/acs")
    response = saml_login(client, login_path="/saml/login?next=/")
    assert response.status_code == 303
    assert client.get("/").get_data(as_text=True) == "hello ada@example.org"


def test_readme_authorization_example_logs_in_with_mfa(tmp_path: Path, saml_idp_factory: Any, saml_login: Any) -> None:
    """The MFA / attribute-map variant: an Entra-like IdP that proves MFA and sends the preset's claims."""
    blocks = _flask_blocks()
    assert blocks[1].continues
    idp = saml_idp_factory(profile="entra", signing="both", authn_context_class_ref="https://refeds.org/profile/mfa")
    (tmp_path / "idp-metadata.xml").write_bytes(idp.metadata_xml())
    namespace = _run(blocks[:2], tmp_path)[-1]
    client = namespace["app"].test_client()
    idp.register_sp("https://app.example.com/saml/metadata", "https://app.example.com/saml/acs")
    response = saml_login(client, login_path="/saml/login?authn=mfa", idp=idp)
    assert response.status_code == 303, response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["fedlib"]["mapped_attributes"]["email"] == ["ada@example.org"]


def test_readme_core_quick_start_accepts_a_response(tmp_path: Path, saml_idp: TestIdP) -> None:
    (block,) = [b for b in BLOCKS if "validate_response(" in b.code]
    (tmp_path / "idp-metadata.xml").write_bytes(saml_idp.metadata_xml())
    (namespace,) = _run([block], tmp_path)
    sp = namespace["sp"]
    saml_idp.register_sp(sp.entity_id, sp.acs_url)
    xml = saml_idp.response_xml(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, in_response_to="_req-1", now=datetime.now(UTC)
    )
    out = StringIO()
    with redirect_stdout(out):
        namespace["acs"](xml.decode(), "_req-1")
        namespace["acs"]("not a response", "_req-1")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("welcome ada@example.org {")
    assert lines[1] == "rejected: malformed-xml"
