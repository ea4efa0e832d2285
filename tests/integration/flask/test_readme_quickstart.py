"""The README's Flask quick start runs as written (paths swapped for temporary ones) and logs a user in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import REPO

from fedlib.testing.idp import TestIdP


def test_readme_flask_quick_start(tmp_path: Path, saml_idp: TestIdP, saml_login: Any) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Quick start: Flask") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    source = code.group(1)
    assert len(source.strip().splitlines()) <= 25
    (tmp_path / "idp-metadata.xml").write_bytes(saml_idp.metadata_xml())
    source = source.replace('"idp-metadata.xml"', repr(str(tmp_path / "idp-metadata.xml")))
    source = source.replace("sqlite:////var/lib/app/fedlib.db", f"sqlite:///{tmp_path / 'fedlib.db'}")
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    client = namespace["app"].test_client()
    saml_idp.register_sp("https://app.example.com/saml/metadata", "https://app.example.com/saml/acs")
    response = saml_login(client, login_path="/saml/login?next=/")
    assert response.status_code == 303
    assert client.get("/").get_data(as_text=True) == "hello ada@example.org"
