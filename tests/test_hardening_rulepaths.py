"""Rule paths name files or folders of rule files, never the filesystem: ``--rules /`` and ``rules: [/]``
fail at once naming the depth limit, folders are searched a bounded depth and entry count, and symlinks
never lead out of the folder that was named."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.output_producers import cli
from tests.test_hostile_rules import logs, rule
from triage.engine import catalog
from triage.engine.catalog import MAX_DEPTH, load_catalog, rule_files
from triage.errors import RuleError

# A hang guard, not a speed target: walking / took minutes before the depth limit.
HANG_GUARD_S = 30


def _rules(folder: Path, rule_id: str = "team-hostile") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rule_id}.yaml").write_text(rule(rule_id, "boom"))
    return folder


def test_rules_root_option_fails_fast_naming_the_limit(tmp_path: Path) -> None:
    start = time.monotonic()
    code, out = cli(["report", logs(tmp_path, ["boom"]), "--rules", "/"])
    assert time.monotonic() - start < HANG_GUARD_S
    assert code == 2, out
    assert f"at most {MAX_DEPTH} levels deep" in out


def test_rules_root_in_config_fails_fast(tmp_path: Path) -> None:
    cfg = tmp_path / "triage.yaml"
    cfg.write_text("rules: [/]\n")
    start = time.monotonic()
    code, out = cli(["report", logs(tmp_path, ["boom"]), "--config", str(cfg)])
    assert time.monotonic() - start < HANG_GUARD_S
    assert code == 2, out
    assert "levels deep" in out or "entries under this rule folder" in out


def test_nested_rules_within_the_limit_load(tmp_path: Path) -> None:
    deepest = tmp_path / "team" / "a" / "b" / "c"
    _rules(deepest, "team-deep")
    (tmp_path / "team" / "notes.txt").write_text("not a rule file")
    assert [p.name for p in rule_files(tmp_path / "team")] == ["team-deep.yaml"]
    assert load_catalog([tmp_path / "team"], builtin=False).get("team-deep") is not None


def test_a_folder_past_the_limit_is_an_error_not_skipped(tmp_path: Path) -> None:
    _rules(tmp_path / "team" / "a" / "b" / "c" / "d", "team-too-deep")
    with pytest.raises(RuleError, match=f"at most {MAX_DEPTH} levels deep"):
        rule_files(tmp_path / "team")


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = _rules(tmp_path / "elsewhere", "team-outside")
    team = _rules(tmp_path / "team")
    (team / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RuleError, match="outside the rule folder"):
        rule_files(team)
    (team / "escape").unlink()
    (team / "one.yaml").symlink_to(outside / "team-outside.yaml")
    with pytest.raises(RuleError, match="outside the rule folder"):
        rule_files(team)


def test_symlink_loop_inside_the_folder_is_not_followed(tmp_path: Path) -> None:
    team = _rules(tmp_path / "team")
    (team / "sub").mkdir()
    (team / "sub" / "loop").symlink_to(team, target_is_directory=True)
    assert [p.name for p in rule_files(team)] == ["team-hostile.yaml"]


def test_a_folder_with_too_many_entries_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(catalog, "MAX_ENTRIES", 50)
    team = _rules(tmp_path / "team")
    for i in range(60):
        (team / f"f{i}.txt").write_text("")
    with pytest.raises(RuleError, match="more than 50 entries"):
        rule_files(team)
