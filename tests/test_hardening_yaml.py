"""Rule and config YAML from an untrusted repository: an alias bomb is refused before anything walks it,
control characters are a located error, a self-referencing anchor does not hang the check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from triage.engine.yamlpos import MAX_EXPANDED_NODES, load_yaml
from triage.errors import RuleError


def test_billion_laughs_is_a_located_error_in_milliseconds(tmp_path: Path):
    src = tmp_path / "bomb.yaml"
    src.write_text(
        "anchors:\n"
        + "".join(f"  a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9 if n else ['"lol"'] * 9) + "]\n" for n in range(9))
        + "rules: [*a8]\n"
    )
    assert len(src.read_bytes()) < 1000  # ~600 bytes standing for 9^9 strings
    start = time.perf_counter()
    with pytest.raises(RuleError, match="alias bomb") as info:
        load_yaml(src)
    assert time.perf_counter() - start < 2
    assert info.value.line == 1 and str(src) in str(info.value)


def test_a_few_aliases_are_fine(tmp_path: Path):
    src = tmp_path / "ok.yaml"
    src.write_text("common: &c [a, b]\nrules:\n  - tags: *c\n  - tags: *c\n")
    assert load_yaml(src)["rules"][1]["tags"] == ["a", "b"]
    assert MAX_EXPANDED_NODES >= 10_000  # room for real catalogs


def test_a_recursive_anchor_terminates(tmp_path: Path):
    src = tmp_path / "loop.yaml"
    src.write_text("a: &a [1, *a]\n")
    with pytest.raises(RuleError, match="recursive") as info:
        load_yaml(src)
    assert info.value.line == 1


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b"])
def test_control_characters_are_a_located_error(char: str, tmp_path: Path):
    src = tmp_path / "ctl.yaml"
    src.write_text(f"rules:\n  - id: ok\n    title: bad{char}title\n")
    with pytest.raises(RuleError, match=r"control character U\+00") as info:
        load_yaml(src)
    assert info.value.line == 3


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path):
    src = tmp_path / "deep.yaml"
    src.write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(RuleError):
        load_yaml(src)
