"""IdIndex.build sets the index's slots itself (issue #9: no frozen-dataclass __init__ on every login); the
index must be the one the constructor builds, with every field set."""

from __future__ import annotations

import dataclasses

import pytest

from fedlib._xml.ids import ID_INDEX_FIELDS, IdIndex
from fedlib._xml.parse import parse_xml

DOCS = [
    b'<r ID="a"><x Id="b"/><y id="c" xml:id="d"/></r>',
    b'<r ID="a"><x Id="a"/><y id="c"/></r>',  # a duplicate: counted, not unique
    b"<r><x/></r>",  # no ID at all
]


def test_the_fields_build_sets_are_all_the_fields() -> None:
    assert tuple(f.name for f in dataclasses.fields(IdIndex)) == ID_INDEX_FIELDS


@pytest.mark.parametrize("xml", DOCS)
def test_build_gives_what_the_constructor_gives(xml: bytes) -> None:
    root = parse_xml(xml)
    index = IdIndex.build(root)
    values = {name: getattr(index, name) for name in ID_INDEX_FIELDS}
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
