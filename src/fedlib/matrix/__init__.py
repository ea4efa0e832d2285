"""The support matrix: which application / IdP / protocol combinations work, computed by running flows.

Each SAML cell is decided by running the real flow (fedlib's SP code against
:class:`fedlib.testing.TestIdP` configured as the vendor); see :mod:`fedlib.matrix.evaluate` for the rule.
This package is an adapter, like the CLI: it drives the test IdP, so production code never imports it.
"""

from fedlib.matrix.evaluate import evaluate, evaluate_cell
from fedlib.matrix.model import Application, Cell, IdPEntry, MatrixConfig, Protocol, Run, Verdict
from fedlib.matrix.render import render_html, render_json, render_markdown, render_text

__all__ = [
    "Application",
    "Cell",
    "IdPEntry",
    "MatrixConfig",
    "Protocol",
    "Run",
    "Verdict",
    "evaluate",
    "evaluate_cell",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
]
