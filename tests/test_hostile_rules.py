"""Hostile team rules, end to end through ``triage report --rules DIR``: the run finishes and names the rule."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from tests.output_producers import cli

# A hang guard, not a speed target: without per-match timeouts the backtracking case runs for hours.
HANG_GUARD_S = 60


def rule(rule_id: str, regex: str, problem: str = "{service} failed") -> str:
    return (
        "rules:\n"
        f"  - id: {rule_id}\n"
        "    title: Hostile rule\n"
        "    severity: high\n"
        "    category: code\n"
        "    match:\n"
        "      any:\n"
        f"        - regex: {orjson.dumps(regex).decode()}\n"
        f"    problem: {orjson.dumps(problem).decode()}\n"
        "    root_cause: unknown\n"
        "    fix: unknown\n"
    )


def logs(tmp: Path, texts: list[str]) -> str:
    path = tmp / "logs.jsonl"
    lines = [
        {
            "timestamp": f"2025-09-05T10:00:{n:02d}Z",
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "resource": {
                "type": "cloud_run_revision",
                "labels": {"service_name": "api", "revision_name": "api-00001-abc"},
            },
            "severity": "ERROR",
            "textPayload": text,
        }
        for n, text in enumerate(texts)
    ]
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return str(path)


def run(tmp: Path, rules_yaml: str, texts: list[str], fmt: str = "json") -> tuple[int, str, float]:
    rules = tmp / "rules"
    rules.mkdir(parents=True)
    (rules / "team.yaml").write_text(rules_yaml)
    start = time.monotonic()
    code, out = cli(["report", logs(tmp, texts), "--rules", str(rules), "--format", fmt])
    return code, out, time.monotonic() - start


def test_catastrophic_backtracking_times_out_and_is_reported(tmp_path: Path):
    evil = "a" * 40 + "!"  # (a|aa)+$ tries exponentially many ways to fail here
    code, out, elapsed = run(tmp_path, rule("evil-backtrack", r"(a|aa)+$"), [evil, evil, "fine line"])
    assert code == 0 and elapsed < HANG_GUARD_S
    report = orjson.loads(out)
    assert report["notes"]["rule_timeouts"] == {"evil-backtrack": 2}
    code, md, _ = run(tmp_path / "md", rule("evil-backtrack", r"(a|aa)+$"), [evil], fmt="md")
    assert code == 0 and "Rule `evil-backtrack`: 1 regex timeout(s)" in md


def test_enormous_regex_is_refused_naming_the_rule(tmp_path: Path):
    words = "(?:" + "|".join(f"word{i:06d}x" for i in range(50_000)) + ")"  # 600 KB
    code, out, elapsed = run(tmp_path, rule("enormous", words), ["word049999x here"])
    assert code == 2 and elapsed < HANG_GUARD_S
    assert out.count("\n") == 1 and 'rule "enormous": match.any[0].regex: pattern too long' in out
    assert "team.yaml:8:" in out


def test_deeply_nested_regex_is_refused_naming_the_rule(tmp_path: Path):
    code, out, _ = run(tmp_path, rule("nested", "(" * 5000 + "a" + ")" * 5000), ["a"])
    assert code == 2 and out.count("\n") == 1 and 'rule "nested"' in out


def test_large_repeat_counts_run_under_the_match_timeout(tmp_path: Path):
    code, out, elapsed = run(tmp_path, rule("repeats", "(?:[a-z]{1,1000}){1,1000}x{100000}"), ["a" * 5000])
    assert code == 0 and elapsed < HANG_GUARD_S
    assert orjson.loads(out)["schema"] == "triage.report/v1"


def test_template_with_missing_capture_completes_and_names_the_rule(tmp_path: Path):
    yaml = rule("missing-capture", r"boom at (?P<host>\S+)", problem="{service} failed at {host} via {nope}")
    code, out, _ = run(tmp_path, yaml, ["boom at db.internal"])
    assert code == 0
    report = orjson.loads(out)
    (issue,) = [i for i in report["issues"] if i["rule"] == "missing-capture"]
    assert issue["problem"] == "api failed at db.internal via unknown nope"
    assert report["notes"]["template_gaps"] == [{"rule": "missing-capture", "placeholder": "nope"}]
    code, md, _ = run(tmp_path / "md", yaml, ["boom at db.internal"], fmt="md")
    assert code == 0 and "Rule `missing-capture`: its texts use `{nope}`" in md
