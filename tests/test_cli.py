from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import entry

CMD = [sys.executable, "-m", "triage"]


def _write(tmp_path, entries, name="logs.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return p


def test_missing_file_is_one_line_exit_2(tmp_path):
    r = subprocess.run([*CMD, "report", str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_date_is_a_usage_error(tmp_path):
    p = _write(tmp_path, [entry("10:00:00", "x")])
    r = subprocess.run([*CMD, "report", str(p), "--date", "05/09/2025"], capture_output=True, text=True)
    assert r.returncode == 2 and "--date" in r.stderr


def test_analyze_json_and_stdin(tmp_path):
    p = _write(tmp_path, [entry("10:00:00", "KeyError: 'DATABASE_URL'"), entry("10:00:01", "ok")])
    r = subprocess.run([*CMD, "analyze", "-", "--format", "json"], input=p.read_text(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema"] == "triage.report/v1"
    assert [i["rule"] for i in data["issues"]] == ["missing-config-env"]
    assert data["stats"]["entries"] == 2


def test_report_is_deterministic_and_written_to_file(tmp_path):
    p = _write(tmp_path, [entry("10:00:00", "KeyError: 'DATABASE_URL'"), entry("10:00:01", "ok")])
    outs = []
    for n in range(2):
        out = tmp_path / f"r{n}.md"
        r = subprocess.run(
            [*CMD, "report", str(p), "--env", "staging", "--out", str(out)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].startswith(b"# Staging Deployment Audit Report\nDate: 2025-09-05\n")
