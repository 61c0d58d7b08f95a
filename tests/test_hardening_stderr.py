"""Error messages on stderr never carry control characters or line breaks from log text or file content:
a runner reads stderr for workflow commands too, and a terminal obeys ESC sequences."""

from __future__ import annotations

from pathlib import Path

from tests.output_producers import cli


def test_error_quoting_hostile_rule_content_is_one_clean_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    # an unknown top-level key whose name carries ESC, CR, NUL-like controls and a newline + workflow command
    (rules / "team.yaml").write_text('"evil\\e[31m\\r\\n::stop-commands::tok\\x07": 1\nrules: []\n')
    logs = tmp_path / "logs.jsonl"
    logs.write_text('{"timestamp": "2025-09-05T10:00:00Z", "textPayload": "x"}\n')
    code, out = cli(["report", str(logs), "--rules", str(rules)])
    assert code == 2, out
    line = next(x for x in out.splitlines() if x.startswith("triage: error:"))
    assert "evil" in line and "::stop-commands::tok" in line  # the key is named, on the error's own line
    assert not any(x.startswith("::") for x in out.splitlines())
    assert not any(c in out for c in "\x1b\r\x07\x00")
