"""IdIndex.for_value (the metadata path's uniqueness proof) finds exactly what the full index finds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from fedlib._xml.ids import IdIndex

NAMES = ["ID", "Id", "id", "iD", "{http://www.w3.org/XML/1998/namespace}id", "{urn:x}ID", "other"]
VALUES = ["_a", "_b", "_a ", "_A"]


@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), max_size=3)),
        max_size=20,
    ),
    st.sampled_from(VALUES),
)
def test_for_value_matches_the_full_index(nodes: list[tuple[int, list[tuple[str, str]]]], value: str) -> None:
    root = etree.Element("root")
    elements = [root]
    for parent_index, attributes in nodes:
        element = etree.SubElement(elements[parent_index % len(elements)], "e")
        for name, attribute_value in attributes:
            element.set(name, attribute_value)
        elements.append(element)
    full = IdIndex.build(root).elements(value)
    targeted = IdIndex.for_value(root, value).elements(value)
    assert sorted(map(id, full)) == sorted(map(id, targeted))
