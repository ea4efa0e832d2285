"""Importers: another library's SP configuration in, fedlib settings (and what cannot carry over) out."""

from fedlib.importers.python3_saml import ImportReport, import_python3_saml

__all__ = ["ImportReport", "import_python3_saml"]
