"""Render support-matrix cells as a terminal table, Markdown, JSON or one self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from fedlib.matrix.model import Cell, Run, Verdict

_COLOURS = {Verdict.SUPPORTED: "\033[32m", Verdict.LIMITED: "\033[33m", Verdict.UNSUPPORTED: "\033[31m"}
_RESET = "\033[0m"
_SYMBOL = {Verdict.SUPPORTED: "supported", Verdict.LIMITED: "limited", Verdict.UNSUPPORTED: "unsupported"}


def _detail(cell: Cell) -> str:
    if cell.verdict is Verdict.SUPPORTED:
        backend = cell.runs[-1].backend if cell.runs else "profile"
        return "" if backend == "profile" else f"run against {backend}"
    if cell.verdict is Verdict.LIMITED:
        return "change: " + "; ".join(cell.workarounds)
    code = f"[{cell.code}] " if cell.code else ""
    return code + cell.reason


def render_text(cells: Sequence[Cell], *, colour: bool = False) -> str:
    """A table, one row per cell, plus a count line. ``colour`` adds ANSI colours to the verdicts."""
    headers = ("application", "idp", "protocol", "verdict", "detail")
    rows = [(c.application, c.idp, c.protocol.value, _SYMBOL[c.verdict], _detail(c)) for c in cells]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers[:4])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:4], widths, strict=True)) + "  " + headers[4]]
    for cell, row in zip(cells, rows, strict=True):
        verdict = row[3].ljust(widths[3])
        if colour:
            verdict = f"{_COLOURS[cell.verdict]}{verdict}{_RESET}"
        lines.append("  ".join(v.ljust(w) for v, w in zip(row[:3], widths[:3], strict=True)) + f"  {verdict}  {row[4]}")
    lines.append(_summary(cells))
    return "\n".join(lines) + "\n"


def _summary(cells: Sequence[Cell]) -> str:
    counts = {v: sum(1 for c in cells if c.verdict is v) for v in Verdict}
    return f"{len(cells)} combinations: " + ", ".join(f"{counts[v]} {v.value}" for v in Verdict)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(cells: Sequence[Cell]) -> str:
    """A Markdown table (one row per cell) and the count line."""
    lines = [
        "| application | IdP | protocol | verdict | workaround / reason |",
        "|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {_md(c.application)} | {_md(c.idp)} | {c.protocol.value} | **{c.verdict.value}** | {_md(_detail(c))} |"
        )
    return "\n".join(lines) + f"\n\n{_summary(cells)}\n"


def cells_as_data(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """Plain data for JSON: every field of every cell, runs included."""
    return [
        {
            "application": c.application,
            "idp": c.idp,
            "protocol": c.protocol.value,
            "verdict": c.verdict.value,
            "reason": c.reason,
            "code": c.code,
            "workarounds": list(c.workarounds),
            "runs": [
                {
                    "changed": dict(r.changed),
                    "sp_changed": dict(r.sp_changed),
                    "outcome": r.outcome,
                    "message": r.message,
                    "backend": r.backend,
                }
                for r in c.runs
            ],
        }
        for c in cells
    ]


def render_json(cells: Sequence[Cell]) -> str:
    return json.dumps({"cells": cells_as_data(cells)}, indent=2, ensure_ascii=False, default=str) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.supported{background:#e3f6e3}.limited{background:#fff4d6}.unsupported{background:#fde2e2}
code{font-size:.85em}
"""


def _changes(run: Run) -> dict[str, Any]:
    """The IdP knobs and (prefixed ``fedlib:``) the fedlib-side settings a run changed."""
    return {**run.changed, **{f"fedlib:{key}": value for key, value in run.sp_changed.items()}}


def render_html(cells: Sequence[Cell], *, title: str = "fedlib support matrix") -> str:
    """One self-contained page (inline CSS, no scripts, no external resources)."""
    esc = html.escape
    rows = []
    for c in cells:
        runs = (
            "<br>".join(esc(f"{_changes(r) or 'as configured'} ({r.backend}) -> {r.outcome}") for r in c.runs)
            or "not run (not SAML)"
        )
        rows.append(
            f"<tr class='{c.verdict.value}'><td>{esc(c.application)}</td><td>{esc(c.idp)}</td>"
            f"<td>{esc(c.protocol.value)}</td><td><strong>{esc(c.verdict.value)}</strong></td>"
            f"<td>{esc(_detail(c))}</td><td><code>{runs}</code></td></tr>"
        )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><p>{esc(_summary(cells))}. Every verdict "
        "comes from running the flow against fedlib's test IdP configured as the vendor.</p>"
        "<table><thead><tr><th>application</th><th>IdP</th><th>protocol</th><th>verdict</th>"
        "<th>workaround / reason</th><th>runs</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>\n"
    )


RENDERERS = {"markdown": render_markdown, "json": render_json, "html": render_html}

__all__ = ["RENDERERS", "cells_as_data", "render_html", "render_json", "render_markdown", "render_text"]
