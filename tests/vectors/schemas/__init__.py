"""Offline XSD validation against the OASIS SAML 2.0 schemas in this directory (see README.md).

The resolver serves only the files in this directory and raises for anything else, and the parser has
``no_network=True`` and ``load_dtd=False``: a reference that would leave the directory fails the test
instead of fetching.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent

METADATA = "saml-schema-metadata-2.0.xsd"
PROTOCOL = "saml-schema-protocol-2.0.xsd"


class SchemaFetchRefused(RuntimeError):
    """An XSD referred to something that is not a file in this directory."""


class _LocalOnly(etree.Resolver):
    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        path = system_url.removeprefix("file://")
        candidate = Path(path) if path.startswith("/") else SCHEMA_DIR / path
        if candidate.resolve().parent == SCHEMA_DIR and candidate.is_file():
            return self.resolve_filename(str(candidate), context)
        raise SchemaFetchRefused(f"schema reference outside {SCHEMA_DIR}: {system_url!r}")


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False, dtd_validation=False)
    parser.resolvers.add(_LocalOnly())
    return parser


@cache
def schema(name: str) -> etree.XMLSchema:
    """The compiled schema ``name`` (a file in this directory), built once per process."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name), _parser()))


def assert_valid(xml: bytes, name: str) -> etree._Element:
    """Parse ``xml`` and validate it against schema ``name``; AssertionError with libxml2's log if invalid."""
    root = etree.fromstring(xml, etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False))
    compiled = schema(name)
    if not compiled.validate(root):
        raise AssertionError(f"not valid against {name}:\n{compiled.error_log}")
    return root
