"""ID attributes: one index per document, built once, used to make reference resolution unambiguous.

XML signature wrapping works by making "the element with ID x" mean one thing to the verifier and
another to the code that reads claims. fedlib closes that in two ways: a signature may only reference
its own parent (checked in xmldsig.profile), and every ID-like attribute value must be unique across the
whole document, whatever attribute name carries it (``ID`` as SAML uses, ``Id``/``id`` as XML-DSig and
WS-Security use, ``xml:id``), so no second element can claim the referenced ID under any lookup rule.

Cost (every login builds one index, bench/verify.py): the index counts values, it does not map them to
elements. One XPath pass returns the ID-like values as plain strings (no Python object per attribute or
element); the elements holding a value are looked up only when asked (:meth:`IdIndex.elements`), and the
question a signature check asks ("is this element the only holder of this value?") is answered from the
counts and the element's own attributes (:meth:`IdIndex.sole_holder`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree

from fedlib._frozen import fast_builder
from fedlib._xml.limits import ID_COUNT, too_complex

# Every ID-like attribute value of the document (ID, Id, id, xml:id), as plain strings, in document order.
# ``//*`` is every element of the document (the document element is a child of the root node), the set
# ``/descendant-or-self::*`` names; libxml2 evaluates it as one descendant step without the intermediate
# node-set of ``descendant-or-self::node()``: ~9 k instructions less per login (bench/verify.py, callgrind).
# ``regexp=False`` (as every compiled XPath of fedlib): no EXSLT functions registered per call (limits.py).
_ID_VALUES: Final = etree.XPath("//*/@ID | //*/@Id | //*/@id | //*/@xml:id", smart_strings=False, regexp=False)
# One pass over every attribute of the document, keeping those equal to $v whose name is ID-like (the
# same four names as _ID_VALUES: ID, Id, id without a namespace, xml:id). The value test comes first: it
# rejects nearly every attribute with one string comparison.
_ID_ATTRS_EQUAL: Final = etree.XPath(
    "/descendant-or-self::*/@*[. = $v]"
    "[(namespace-uri() = '' and (local-name() = 'ID' or local-name() = 'Id' or local-name() = 'id'))"
    " or (namespace-uri() = 'http://www.w3.org/XML/1998/namespace' and local-name() = 'id')]",
    regexp=False,
)


@dataclass(frozen=True, slots=True)
class IdIndex:
    """The ID-like attribute values of one document: how many attributes carry each value, and (looked up
    on demand) the elements that carry it.

    Two forms: *counted* (:meth:`build`: ``counts`` holds every value of the document, ``holders`` is filled
    lazily from ``root``) and *targeted* (:meth:`for_value`, or ``IdIndex(holders=...)``: ``holders`` is
    authoritative and ``counts`` is None).
    """

    holders: dict[str, list[etree._Element]]
    counts: dict[str, int] | None = None
    root: etree._Element | None = field(default=None, compare=False)
    unique: bool = field(default=False, compare=False)
    """True when :meth:`build` counted every value once: no duplicates, known without another pass (False:
    not known; ask :meth:`duplicates`)."""

    @classmethod
    def build(cls, root: etree._Element, *, max_ids: int | None = None) -> IdIndex:
        """Count every ID-like attribute value of ``root``'s whole document in one XPath pass.

        ``max_ids``: refuse (``message-too-complex``, ``XMLLimits.max_id_attributes``) a document with
        more ID-like attributes, before collecting them (counted first: the union that collects them is slow
        on a flood); None when the cap was already enforced (``parse_xml`` does, in
        ``limits.check_structure``) or there is none (signed IdP metadata).
        """
        if max_ids is not None:
            count = int(ID_COUNT(root))  # type: ignore[arg-type]
            if count > max_ids:
                raise too_complex("ID attributes", count, max_ids, "max_id_attributes")
        values: Any = _ID_VALUES(root)
        # Common case, every value distinct: one C-level pass gives the counts (all 1).
        counts: dict[str, int] = dict.fromkeys(values, 1)
        unique = len(counts) == len(values)
        if not unique:
            counts = {}
            for value in values:
                counts[value] = counts.get(value, 0) + 1
        if cls is not IdIndex:
            return cls(holders={}, counts=counts, root=root, unique=unique)
        return _new_index(holders={}, counts=counts, root=root, unique=unique)  # every login builds one

    @classmethod
    def for_value(cls, root: etree._Element, value: str) -> IdIndex:
        """An index of ``root``'s whole document holding only ``value``: every element that carries it
        in an ID-like attribute (once per attribute, like :meth:`build`). One XPath pass and no Python
        object per other attribute: for a large signed document where one ID (the one a signature
        references) must be proven unique, and no other ID is ever looked up."""
        # Every value, the empty one too: an element alone in carrying ID="" is its sole holder, as in build().
        return cls(holders={value: _holders(root, value)})

    def duplicates(self) -> set[str]:
        """ID values carried by more than one element (or twice by one element under different names)."""
        if self.unique:
            return set()
        if self.counts is not None:
            return {value for value, count in self.counts.items() if count > 1}
        return {value for value, elements in self.holders.items() if len(elements) > 1}

    def count(self, value: str) -> int:
        """How many ID-like attributes in the document carry ``value``."""
        if self.counts is not None:
            return self.counts.get(value, 0)
        return len(self.holders.get(value, ()))

    def elements(self, value: str) -> list[etree._Element]:
        """Every element carrying ``value`` in an ID-like attribute (once per such attribute)."""
        found = self.holders.get(value)
        if found is None:
            found = _holders(self.root, value) if self.root is not None and self.count(value) else []
            self.holders[value] = found
        return found

    def sole_holder(self, value: str, element: etree._Element) -> bool:
        """Whether ``element`` is the one and only carrier of ``value`` in the whole document: exactly one
        ID-like attribute anywhere has this value, and it is one of ``element``'s."""
        if self.counts is None:
            holders = self.holders.get(value, [])
            return len(holders) == 1 and holders[0] is element
        if self.counts.get(value) != 1:
            return False
        for name in ID_ATTRIBUTE_NAMES:  # noqa: SIM110 (a loop, not any(<generator>): one code object less per login)
            if element.get(name) == value:
                return True
        return False


_new_index: Final = fast_builder(IdIndex)
"""``IdIndex(...)`` (same parameters, same object) without the frozen dataclass ``__init__`` (fedlib._frozen)."""


def _holders(root: etree._Element, value: str) -> list[etree._Element]:
    attrs: Any = _ID_ATTRS_EQUAL(root, v=value)
    return [parent for attr in attrs if (parent := attr.getparent()) is not None]


#: The ID-like attribute names (as lxml spells them), the same four as ``_ID_VALUES``.
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


__all__ = ["ID_ATTRIBUTE_NAMES", "IdIndex", "id_index_of_value"]
