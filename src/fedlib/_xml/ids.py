"""ID attributes: one index per document, built once, used to make reference resolution unambiguous.

XML signature wrapping works by making "the element with ID x" mean one thing to the verifier and
another to the code that reads claims. fedlib closes that in two ways: a signature may only reference
its own parent (checked in xmldsig.profile), and every ID-like attribute value must be unique across the
whole document, whatever attribute name carries it (``ID`` as SAML uses, ``Id``/``id`` as XML-DSig and
WS-Security use, ``xml:id``), so no second element can claim the referenced ID under any lookup rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from fedlib._xml.limits import too_complex

_ID_ATTRS: Final = etree.XPath(
    "/descendant-or-self::*/@ID | /descendant-or-self::*/@Id"
    " | /descendant-or-self::*/@id | /descendant-or-self::*/@xml:id"
)
# Counting first keeps the cap ahead of the union: libxml2 merges a union's node-sets in document order,
# which is slow when the four attribute names are interleaved (~190 ms for 20,000 of them in 256 KiB, where
# the four counts take ~2 ms). Under the cap the union is small and cheap.
_ID_COUNT: Final = etree.XPath(
    "count(/descendant-or-self::*/@ID) + count(/descendant-or-self::*/@Id)"
    " + count(/descendant-or-self::*/@id) + count(/descendant-or-self::*/@xml:id)"
)


# One pass over every attribute of the document, keeping those equal to $v whose name is ID-like (the
# same four names as _ID_ATTRS: ID, Id, id without a namespace, xml:id). The value test comes first: it
# rejects nearly every attribute with one string comparison.
_ID_ATTRS_EQUAL: Final = etree.XPath(
    "/descendant-or-self::*/@*[. = $v]"
    "[(namespace-uri() = '' and (local-name() = 'ID' or local-name() = 'Id' or local-name() = 'id'))"
    " or (namespace-uri() = 'http://www.w3.org/XML/1998/namespace' and local-name() = 'id')]"
)


@dataclass(frozen=True, slots=True)
class IdIndex:
    """Every ID-like attribute value in a document, with the elements that carry it."""

    holders: dict[str, list[etree._Element]]

    @classmethod
    def build(cls, root: etree._Element, *, max_ids: int | None = None) -> IdIndex:
        """Index ``root``'s whole document in one XPath pass.

        ``max_ids``: refuse (``message-too-complex``, ``XMLLimits.max_id_attributes``) a document with
        more ID-like attributes, before indexing them; None for no cap (signed IdP metadata).
        """
        if max_ids is not None:
            count = int(_ID_COUNT(root))  # type: ignore[arg-type]
            if count > max_ids:
                raise too_complex("ID attributes", count, max_ids, "max_id_attributes")
        attrs: Any = _ID_ATTRS(root)
        holders: dict[str, list[etree._Element]] = {}
        for attr in attrs:
            parent = attr.getparent()
            if parent is not None:
                holders.setdefault(str(attr), []).append(parent)
        return cls(holders=holders)

    @classmethod
    def for_value(cls, root: etree._Element, value: str) -> IdIndex:
        """An index of ``root``'s whole document holding only ``value``: every element that carries it
        in an ID-like attribute (once per attribute, like :meth:`build`). One XPath pass and no Python
        object per other attribute: for a large signed document where one ID (the one a signature
        references) must be proven unique, and no other ID is ever looked up."""
        attrs: Any = _ID_ATTRS_EQUAL(root, v=value)
        elements = [parent for attr in attrs if (parent := attr.getparent()) is not None]
        return cls(holders={value: elements} if elements else {})

    def duplicates(self) -> set[str]:
        """ID values carried by more than one element (or twice by one element under different names)."""
        return {value for value, elements in self.holders.items() if len(elements) > 1}

    def elements(self, value: str) -> list[etree._Element]:
        """Every element carrying ``value`` in an ID-like attribute."""
        return self.holders.get(value, [])


#: The ID-like attribute names (as lxml spells them), the same four as ``_ID_ATTRS``.
ID_ATTRIBUTE_NAMES: Final = frozenset({"ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id"})


def id_index_of_value(attributes: Iterable[Any], value: str) -> IdIndex:
    """The :meth:`IdIndex.for_value` index of ``value``, built from attributes already found (by
    ``fedlib._xml.limits.check_large_document(..., attribute_value=value)``, which returns every
    attribute of the document whose value is ``value``, under any name) instead of another pass: the
    ID-like ones are kept, with their elements, once per attribute."""
    elements = [
        parent
        for attr in attributes
        if getattr(attr, "attrname", None) in ID_ATTRIBUTE_NAMES
        and attr == value
        and (parent := attr.getparent()) is not None
    ]
    return IdIndex(holders={value: elements} if elements else {})
