"""ID attributes: one index per document, built once, used to make reference resolution unambiguous.

XML signature wrapping works by making "the element with ID x" mean one thing to the verifier and
another to the code that reads claims. fedlib closes that in two ways: a signature may only reference
its own parent (checked in xmldsig.profile), and every ID-like attribute value must be unique across the
whole document, whatever attribute name carries it (``ID`` as SAML uses, ``Id``/``id`` as XML-DSig and
WS-Security use, ``xml:id``), so no second element can claim the referenced ID under any lookup rule.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from lxml import etree

_ID_ATTRS: Final = etree.XPath("//@ID | //@Id | //@id | //@xml:id")


def duplicate_ids(root: etree._Element) -> set[str]:
    """ID values carried by more than one ID-like attribute anywhere in ``root``'s document."""
    values = _ID_ATTRS(root)
    assert isinstance(values, list)
    if len(values) < 2:
        return set()
    counts = Counter(str(v) for v in values)
    return {value for value, n in counts.items() if n > 1}


def elements_with_id(root: etree._Element, value: str) -> list[etree._Element]:
    """Every element in ``root``'s document that carries ``value`` in an ID-like attribute."""
    out: list[etree._Element] = []
    for attr in _ID_ATTRS(root):  # type: ignore[union-attr]
        if str(attr) == value:
            parent = attr.getparent()  # type: ignore[union-attr]
            if parent is not None:
                out.append(parent)
    return out
