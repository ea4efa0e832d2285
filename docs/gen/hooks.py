"""mkdocs hook: the generated pages of the docs site, written at build time from fedlib's own data.

- ``reference/error-codes.md``: every ``fedlib.ErrorCode`` by family, with meaning, cause and fix taken
  from the table in ``docs/errors.md`` (one source each: the enum for the codes and families, the table for
  the prose; a code missing from the table fails the build, and ``tests/unit/core/test_docs.py`` already
  fails on it).
- ``cli.md``: the command line, from the ``fedlib`` argparse parser (each subcommand's ``--help``), so a
  subcommand added by another branch appears without a docs change.
- ``idp/<vendor>.md``: a setup guide per IdP from the vendor profiles (``fedlib.testing.profiles``: the
  defaults and the exact setting for Response signing, certificate in KeyInfo and encryption) and
  ``fedlib.testing.registration`` (where the entity ID, ACS URL and metadata go).

Generated at build time rather than committed: these pages only re-render data that already lives (and is
tested) in the code, several engineers add codes and profiles in parallel, and a committed copy would go
stale at every merge. ``docs/matrix.md`` is different: it is the *result of running* every flow (slow, and
linked from the README on the repository), so it stays committed and checked fresh by a test.

Pure functions (``error_codes_page``, ``idp_guide``, ``idp_pages``) so that tests can call them; the
output is deterministic (enum order, profile order).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:  # document this tree's fedlib, not whichever is installed
    sys.path.insert(0, str(ROOT / "src"))

from fedlib import errors  # noqa: E402
from fedlib.testing.profiles import PROFILES, VendorProfile  # noqa: E402
from fedlib.testing.registration import REGISTRATIONS, Registration  # noqa: E402

_ROW = re.compile(r"^\| `(?P<code>[a-z0-9-]+)` \| (?P<family>[^|]+) \|(?P<rest>.*)\|\s*$")

FAMILIES: tuple[type[errors.ResponseRejected], ...] = (
    errors.XMLRejected,
    errors.SignatureRejected,
    errors.UnsupportedFeature,
    errors.ProtocolRejected,
    errors.ConditionRejected,
    errors.ReplayRejected,
    errors.AuthorizationRejected,
)


def _table(errors_md: str) -> dict[str, list[str]]:
    """code -> [meaning, cause, fix] from the table in docs/errors.md."""
    rows: dict[str, list[str]] = {}
    for line in errors_md.splitlines():
        m = _ROW.match(line)
        if m:
            # The page lives in reference/: the table's relative links are relative to docs/.
            rest = re.sub(r"\]\((?!https?://|#)", "](../", m.group("rest"))
            cells = [c.strip() for c in rest.split(" | ")]
            rows[m.group("code")] = [*cells, "", "", ""][:3]
    return rows


def error_codes_page(errors_md: str) -> str:
    rows = _table(errors_md)
    missing = [c.value for c in errors.ErrorCode if c.value not in rows]
    if missing:
        raise ValueError(f"docs/errors.md has no row for: {', '.join(missing)}")
    out = [
        "# Error-code reference",
        "",
        "Generated at build time from `fedlib.ErrorCode` (the codes and their families) and the table in",
        "[Errors](../errors.md) (meaning, cause, fix). Every rejection raises a `ResponseRejected` subclass (the",
        "family) whose `.code` is one of these; codes are API: never renamed, only added. Link to a code as",
        "`reference/error-codes.md#<code>`.",
        "",
    ]
    for family in FAMILIES:
        codes = [c for c in errors.ErrorCode if c in family.family_codes]
        doc = (family.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out += [f"## {family.__name__}", "", doc, ""]
        for code in codes:
            meaning, cause, fix = rows[code.value]
            out += [
                f"### `{code.value}`",
                "",
                f"`ErrorCode.{code.name}`, raised as `{family.__name__}`.",
                "",
                f"**Meaning.** {meaning}",
                "",
                f"**Typical cause.** {cause}",
                "",
                f"**Fix.** {fix}",
                "",
            ]
    return "\n".join(out)


def _md(text: str) -> str:
    """Vendor text as Markdown: ``<RP>``-style placeholders outside backticks are shown, not taken as HTML."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _accepts_signing(value: str) -> bool:
    return value in ("response", "both")


def _policy_item(profile: VendorProfile, title: str, ok: bool, knobs: tuple[str, ...], default: str) -> list[str]:
    setting = next((s for k in knobs if (s := profile.setting_for(k)) is not None), None)
    lines = [f"### {title}", ""]
    if ok:
        lines.append(f"**Default: fine.** {default} Nothing to change.")
        if setting is not None:
            lines += ["", f"Where to check it: {_md(setting.setting)} (source: {_md(setting.source)})."]
    else:
        lines.append(f"**Change this.** {default}")
        lines.append("")
        if setting is not None:
            lines.append(f"Setting: **{_md(setting.setting)}** (source: {_md(setting.source)}).")
        else:
            lines.append("fedlib's vendor data names no setting for this yet: see the vendor's documentation.")
    return [*lines, ""]


def idp_guide(profile: VendorProfile, registration: Registration) -> str:
    d = profile.defaults
    encrypted = [k for k in ("encrypt_assertion", "encrypt_attributes", "encrypt_name_id") if getattr(d, k)]
    out = [
        f"# {profile.display_name}",
        "",
        f"Generated from fedlib's vendor profile `{profile.name}` (`fedlib.testing.profiles`, the same data the",
        "test IdP and the [support matrix](../matrix.md) use) and `fedlib.testing.registration`. Menu labels",
        "change between console versions: check them in yours.",
        "",
        "## 1. Register fedlib's SP",
        "",
        f"Create it: {_md(registration.create)}.",
        "",
        "| fedlib value | Where it goes |",
        "|---|---|",
        f"| SP entity ID (`SPConfig.entity_id`, e.g. `{_EXAMPLE_ENTITY_ID}`) | {_md(registration.entity_id)} |",
        f"| ACS URL (`SPConfig.acs_url`, e.g. `{_EXAMPLE_ACS}`; exactly, https) | {_md(registration.acs_url)} |",
        f"| SP metadata URL (the Flask extension serves it at `/saml/metadata`) | {_md(registration.metadata_url)} |",
        "",
        "## 2. The settings fedlib's policy needs",
        "",
    ]
    out += _policy_item(
        profile,
        "Response signing",
        _accepts_signing(d.signing),
        ("signing",),
        f"By default {profile.display_name} signs "
        + {
            "response": "the Response.",
            "both": "the Response and the Assertion.",
            "assertion": "only the "
            "Assertion; fedlib refuses that (`assertion-only-signature`): the whole Response must be signed.",
        }.get(d.signing, f"`{d.signing}`: fedlib needs the Response signed."),
    )
    out += _policy_item(
        profile,
        "Certificate in KeyInfo",
        "certificate" in d.key_info,
        ("key_info",),
        "The signing certificate is sent in the signature's `KeyInfo`."
        if "certificate" in d.key_info
        else "The signature's `KeyInfo` carries no certificate by default; fedlib refuses that "
        "(`missing-certificate`): it compares the certificate sent with the IdP metadata.",
    )
    out += _policy_item(
        profile,
        "No encryption",
        not encrypted,
        ("encrypt_assertion", "encrypt_attributes", "encrypt_name_id"),
        "Assertions are not encrypted by default (keep it so: fedlib's SP metadata publishes no encryption key)."
        if not encrypted
        else f"It encrypts {', '.join(_ENCRYPTED[k] for k in encrypted)} by default; fedlib refuses encrypted claims "
        "(`encrypted-claims-unsupported`): the signed Response over TLS already protects them.",
    )
    others = [s for s in profile.settings if s.knob not in _POLICY_KNOBS]
    if others or profile.sp_settings:
        out += ["### Other settings", ""]
        out += [f"- `{s.knob}` = `{s.value!r}`: {_md(s.setting)} (source: {_md(s.source)})" for s in others]
        out += [
            f"- fedlib side, `{s.key}`: {_md(s.setting)} (for `{s.outcome}`; source: {_md(s.source)})"
            for s in profile.sp_settings
        ]
        out.append("")
    out += [
        "## 3. Give fedlib the IdP's metadata",
        "",
        f'{_md(registration.idp_metadata)}. Load it with `parse_idp_metadata` (or `metadata_file = "..."` in the',
        "[settings file](../configuration.md)); fedlib trusts exactly the signing certificates it lists.",
        "",
        "## Sources and notes",
        "",
        *[f"- {_md(s)}" for s in profile.sources],
        *[f"- Note: {_md(n)}" for n in profile.notes],
        "",
    ]
    return "\n".join(out)


_ENCRYPTED = {"encrypt_assertion": "assertions", "encrypt_attributes": "attributes", "encrypt_name_id": "NameIDs"}
_EXAMPLE_ENTITY_ID = "https://app.example.com/saml/metadata"
_EXAMPLE_ACS = "https://app.example.com/saml/acs"
_POLICY_KNOBS = frozenset({"signing", "key_info", "encrypt_assertion", "encrypt_attributes", "encrypt_name_id"})


def idp_pages() -> dict[str, str]:
    """``idp/<name>.md`` -> content, for every profile with registration data, plus the index."""
    pages = {f"idp/{name}.md": idp_guide(PROFILES[name], reg) for name, reg in REGISTRATIONS.items()}
    index = [
        "# IdP setup guides",
        "",
        "One page per identity provider, generated from fedlib's vendor profiles: where to register the SP,",
        "and the exact settings for fedlib's policy (Response signed, certificate in KeyInfo, no encryption).",
        "",
        "| IdP | Response signed by default | Certificate in KeyInfo | Encrypts by default |",
        "|---|---|---|---|",
    ]
    for name in REGISTRATIONS:
        d = PROFILES[name].defaults
        enc = any(getattr(d, k) for k in ("encrypt_assertion", "encrypt_attributes", "encrypt_name_id"))
        index.append(
            f"| [{PROFILES[name].display_name}]({name}.md) | {'yes' if _accepts_signing(d.signing) else '**no**'} "
            f"| {'yes' if 'certificate' in d.key_info else '**no**'} | {'**yes**' if enc else 'no'} |"
        )
    pages["idp/index.md"] = "\n".join([*index, ""])
    return pages


_CLI_HEADER = """# Command line

Generated at build time from the `fedlib` argument parser (the same text as `fedlib COMMAND --help`).
`fedlib --version` prints the installed version.

## Exit statuses and `--json`

Every subcommand keeps one contract, which scripts and the shared interop harness rely on:

| Status | Meaning | `--json` `"error"` |
|---|---|---|
| 0 | accepted / done | (`"ok": true`) |
| 1 | the message was rejected (`check-response`) | the [error code](reference/error-codes.md) |
| 2 | usage, configuration or store error | `configuration-error`, `store-error` |
| 3 | an internal error (a fedlib bug): one line on stderr, no traceback (`FEDLIB_TRACEBACK=1`) | `internal-error` |
| 141 | standard output was closed early (`fedlib matrix \\| head`) | |

With `--json`, one JSON object is printed on standard output in every case, errors included. More in
[Errors and exit statuses](errors.md).
"""


def cli_page() -> str:
    import argparse
    import os

    from fedlib.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it for a deterministic page
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = [_CLI_HEADER]
    for name, sub in subparsers.choices.items():
        out += [f"## `fedlib {name}`", "", "```", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    docs_dir = Path(config["docs_dir"])
    generated = {
        "reference/error-codes.md": error_codes_page((docs_dir / "errors.md").read_text()),
        "cli.md": cli_page(),
        **idp_pages(),
    }
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_config(config: Any) -> Any:
    """Drop nav entries for pages that do not exist (yet): pages other branches are writing need only their
    nav line; until they land, the line is skipped instead of failing the strict build."""
    docs_dir = Path(config["docs_dir"])
    generated = {"reference/error-codes.md", "cli.md", "idp/index.md", *(f"idp/{n}.md" for n in REGISTRATIONS)}

    def keep(item: Any) -> Any:
        if isinstance(item, str):
            return item if item in generated or (docs_dir / item).is_file() or "://" in item else None
        if isinstance(item, dict):
            kept = {k: keep(v) for k, v in item.items()}
            kept = {k: v for k, v in kept.items() if v not in (None, [])}
            return kept or None
        if isinstance(item, list):
            return [k for k in (keep(i) for i in item) if k is not None]
        return item

    if config.get("nav"):
        config["nav"] = keep(config["nav"])
    return config
