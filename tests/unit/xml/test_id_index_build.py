"""IdIndex.build builds the index without the frozen dataclass __init__ (issue #9: fedlib._frozen, held to
constructors in tests/unit/core/test_frozen.py); the index must be the one the constructor builds."""

from __future__ import annotations

import dataclasses

import pytest

from fedlib._xml.ids import IdIndex
from fedlib._xml.parse import parse_xml

DOCS = [
    b'<r ID="a"><x Id="b"/><y id="c" xml:id="d"/></r>',
    b'<r ID="a"><x Id="a"/><y id="c"/></r>',  # a duplicate: counted, not unique
    b"<r><x/></r>",  # no ID at all
]


@pytest.mark.parametrize("xml", DOCS)
def test_build_gives_what_the_constructor_gives(xml: bytes) -> None:
    root = parse_xml(xml)
    index = IdIndex.build(root)
    values = {f.name: getattr(index, f.name) for f in dataclasses.fields(IdIndex)}
    expected = IdIndex(**values)
    assert type(index) is IdIndex
    assert index == expected
    assert index.holders == {}
    assert index.root is root
    assert index.unique == (xml != DOCS[1])
    assert index.duplicates() == ({"a"} if xml == DOCS[1] else set())


def test_a_subclass_is_built_by_its_own_constructor() -> None:
    class Sub(IdIndex):
        __slots__ = ()

    index = Sub.build(parse_xml(DOCS[0]))
    assert type(index) is Sub
    assert index.counts == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert index.unique
