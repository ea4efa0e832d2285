"""The dependency direction of docs/architecture.md, enforced on the source text of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "fedlib"
FORBIDDEN_EVERYWHERE_BUT_ADAPTERS = {
    "flask",
    "starlette",
    "fastapi",
    "uvicorn",
    "django",
    "redis",
    "pytest",
    "requests",
    "httpx",
    "signxml",
    "xmlsec",
}
ADAPTERS = {"testing", "integrations", "cli", "matrix", "federation"}
# A store backend may import its own client library (lazily: importing fedlib.stores must not need it).
BACKEND_CLIENTS = {"stores/redis.py": {"redis"}}
CORE_ORDER = ["_frozen", "errors", "clock", "constants", "_xml", "xmldsig", "metadata", "protocol", "validation"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_layering(path: Path) -> None:
    rel = path.relative_to(SRC)
    top = rel.parts[0]
    imports = _imports(path)
    if top not in ADAPTERS:
        allowed = BACKEND_CLIENTS.get(rel.as_posix(), set())
        assert not {i.split(".")[0] for i in imports} & (FORBIDDEN_EVERYWHERE_BUT_ADAPTERS - allowed), rel
        assert not any(i.startswith("fedlib.testing") for i in imports), rel
    if top == "errors.py":
        assert not any(i.startswith("fedlib") for i in imports)
    layer = top.removesuffix(".py")
    if layer in CORE_ORDER:
        allowed_above = CORE_ORDER[: CORE_ORDER.index(layer) + 1]
        for name in imports:
            if name.startswith("fedlib."):
                target = name.split(".")[1]
                assert target in allowed_above or target in ("config", "stores"), f"{rel} imports {name}"
