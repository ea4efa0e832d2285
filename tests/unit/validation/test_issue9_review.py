"""Issue #9 review: the one-pass fast paths of ``validate_response`` decide exactly as the code they replaced.

Each test here pins an input on which a fast path could part from the reference path (225f489): found by
a differential run of the old and the new pipeline over mutated, genuinely signed test-IdP Responses.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from tests.support import World

from fedlib._xml.parse import parse_xml
from fedlib.config import SecurityPolicy
from fedlib.errors import ErrorCode, SignatureRejected
from fedlib.xmldsig.profile import _prevalidate_rule_by_rule, prevalidate_signature

DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"

# SecurityPolicy does not type-check allow_sha1; the rule-by-rule profile reads it by truthiness.
NON_BOOL_FLAGS: list[Any] = [None, "", 0, [], 1, "yes"]


def _outcome(function: Any, signature: etree._Element, allow_sha1: Any) -> object:
    try:
        return function(signature, allow_sha1=allow_sha1)
    except SignatureRejected as exc:
        return exc.code


@pytest.mark.parametrize("flag", NON_BOOL_FLAGS, ids=repr)
@pytest.mark.parametrize(("algorithm", "digest"), [("rsa-sha256", "sha256"), ("rsa-sha1", "sha1")])
def test_profile_fast_path_reads_allow_sha1_like_the_rules(flag: Any, algorithm: str, digest: str) -> None:
    """The one-pass profile check looked allow_sha1 up as a dict key: None/"" raised KeyError, [] TypeError
    (a crash on every login), where the rules decide by truthiness."""
    w = World()
    signature = parse_xml(w.mint(signature_algorithm=algorithm, digest_algorithm=digest)).find(DS_SIGNATURE)
    assert signature is not None
    reference = _outcome(_prevalidate_rule_by_rule, signature, flag)  # reads the element, never changes it
    assert _outcome(prevalidate_signature, signature, flag) == reference


@pytest.mark.parametrize("flag", NON_BOOL_FLAGS, ids=repr)
def test_pipeline_with_non_bool_allow_sha1_decides_by_truthiness(flag: Any) -> None:
    w = World(policy=SecurityPolicy(allow_unsolicited=True, allow_sha1=flag))
    assert w.check(w.mint()).name_id == "alice@example.com"
    legacy = w.mint(signature_algorithm="rsa-sha1", digest_algorithm="sha1")
    if flag:
        assert w.check(legacy).name_id == "alice@example.com"
    else:
        assert w.code_of(legacy) == ErrorCode.WEAK_ALGORITHM
