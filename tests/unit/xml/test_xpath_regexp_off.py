"""Every compiled XPath in fedlib is built with ``regexp=False`` (fedlib._xml.limits says why: lxml otherwise
registers the EXSLT regular-expression functions in the context on every call, ~3 k instructions each, on
every login). A source check, so that a new XPath does not silently bring the cost back."""

from __future__ import annotations

import ast
from pathlib import Path

import fedlib

_SRC = Path(fedlib.__file__).parent


def _xpath_calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(_SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "XPath":
                found.append((f"{path.relative_to(_SRC)}:{node.lineno}", node))
    return found


def test_there_are_compiled_xpaths_to_check() -> None:
    assert len(_xpath_calls()) >= 3


def test_every_compiled_xpath_is_built_without_exslt_regexp() -> None:
    missing = [
        where
        for where, call in _xpath_calls()
        if not any(
            kw.arg == "regexp" and isinstance(kw.value, ast.Constant) and kw.value.value is False
            for kw in call.keywords
        )
    ]
    assert missing == []
