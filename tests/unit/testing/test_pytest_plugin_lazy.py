"""The pytest plugin loads in every test run of every project that installs fedlib: it must be cheap to
import and must not need signxml, which only the ``testing`` extra installs (issue #12 §6)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

# Heavy or optional modules the plugin must not import at start-up (before this change it imported all of
# fedlib, lxml, cryptography and signxml: ~155 ms in every pytest run).
HEAVY = ("lxml", "cryptography", "signxml", "fedlib.sp", "fedlib.config", "fedlib.testing.idp")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_plugin_import_is_cheap() -> None:
    loaded = _modules_after("import fedlib.testing.pytest_plugin")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
    assert heavy == []


def test_import_fedlib_is_cheap_and_names_still_resolve() -> None:
    loaded = _modules_after(
        "import fedlib\nassert 'lxml' not in __import__('sys').modules\n"
        "from fedlib import ErrorCode, SPConfig, validate_response\nassert fedlib.__all__"
    )
    assert "lxml" in loaded  # loaded on first use of a name that needs it


def test_public_names_resolve() -> None:
    import fedlib
    import fedlib.testing

    for module in (fedlib, fedlib.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        _ = fedlib.no_such_name
    with pytest.raises(AttributeError):
        _ = fedlib.testing.no_such_name


def test_documented_import_works() -> None:
    from fedlib.testing import TestIdP
    from fedlib.testing.idp import TestIdP as Direct

    assert TestIdP is Direct


_NO_SIGNXML = "import sys\nsys.modules['signxml'] = None\n"


def test_testing_without_signxml_names_the_extra() -> None:
    code = _NO_SIGNXML + (
        "import fedlib.testing.pytest_plugin\n"  # the plugin still loads
        "try:\n    from fedlib.testing import TestIdP\nexcept ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "pip install 'fedlib[testing]'" in out


def test_fixture_without_signxml_fails_with_the_install_hint(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_NO_SIGNXML)
    pytester.makepyfile(
        test_user_project="def test_uses_idp(saml_idp):\n    pass\n\ndef test_plain():\n    assert 1 + 1 == 2\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert "pip install 'fedlib[testing]'" in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
