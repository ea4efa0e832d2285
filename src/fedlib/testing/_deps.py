"""fedlib.testing signs like an IdP with signxml, which only the ``testing`` extra installs."""

from __future__ import annotations

INSTALL_HINT = (
    "fedlib's test IdP (fedlib.testing, its pytest fixtures, `fedlib matrix`) signs with signxml, "
    "which is not installed: pip install 'fedlib[testing]'"
)
