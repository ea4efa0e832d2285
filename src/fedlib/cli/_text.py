"""Text the CLI prints for a person to read (not ``--json``, which keeps every value exactly)."""

from __future__ import annotations


def terminal_safe(text: str) -> str:
    """``text`` with every character that is not printable shown as its Python escape (``\\x9b``, ``\\u202e``),
    line breaks kept: C0 and C1 controls (U+009B is an 8-bit CSI to some terminals), line and paragraph
    separators, bidi overrides and other format characters.

    Why: the readable reports print values from messages and metadata (entity IDs, NameIDs, endpoint URLs,
    certificate subjects, paths), which are untrusted, or come from an IdP trusted for its claims but not
    for what a terminal does with them: such a character can move the cursor, hide text, or make one value
    read as another."""
    if text.isprintable():
        return text
    return "\n".join(line if line.isprintable() else _escaped(line) for line in text.split("\n"))


def _escaped(line: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in line)


__all__ = ["terminal_safe"]
