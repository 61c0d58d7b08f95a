"""A pathological team rule is bounded: timeouts and slow evaluations switch it off, and the run goes on."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from triage.cli import app
from triage.commands.common import RunOptions, run_analysis
from triage.engine import Matcher, load_catalog
from triage.events import make_event
from triage.records import from_entry

# A folder holding one team rule whose pattern backtracks catastrophically on the entries below.
HOSTILE_RULES = Path(__file__).resolve().parent / "data" / "hostile-team"


def entry(i: int, hex_len: int = 44) -> dict:
    trace = (f"{i:08x}" + "5f3c9a0e1b2d4c6e8f7a9b0c1d2e3f4a5b6c7d8e")[:hex_len]
    return {
        "timestamp": f"2025-09-05T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api", "revision_name": "api-00001-abc"}},
        "insertId": f"{i:024x}",
        "textPayload": f"request finished trace={trace}.",
    }


def setup(tmp_path: Path, n: int) -> tuple[Path, Path]:
    export = tmp_path / "export.jsonl"
    export.write_bytes(b"".join(orjson.dumps(entry(i)) + b"\n" for i in range(n)))
    return HOSTILE_RULES, export


def test_timeouts_switch_the_rule_off_and_the_run_completes(tmp_path):
    team, export = setup(tmp_path, 400)
    analysis = run_analysis(RunOptions(sources=(str(export),), rules=(team,)))
    stats = analysis.collected.stats
    assert stats.entries == 400 and stats.events == 400
    # Three timeouts, then the rule is off: not 400 timeouts x 0.25 s.
    assert stats.rule_timeouts == {"team-hostile": 3}
    assert "Rule team-hostile was switched off for the rest of the run after 3 regex timeouts (limit 3)." in stats.notes


def test_report_data_quality_names_the_rule(tmp_path):
    team, export = setup(tmp_path, 50)
    result = CliRunner().invoke(app, ["report", str(export), "--rules", str(team)])
    assert result.exit_code == 0, result.stderr
    quality = result.stdout[result.stdout.index("## Data Quality") :]
    assert "team-hostile" in quality and "3 regex timeout(s)" in quality
    assert "switched off for the rest of the run" in quality


def test_slow_rule_without_timeouts_uses_up_its_time_budget():
    catalog = load_catalog([HOSTILE_RULES])
    # A generous timeout, so each evaluation is slow (milliseconds) but never times out.
    matcher = Matcher(catalog, timeout_s=30.0, budget_s=0.2)
    for i in range(300):
        matcher.match(make_event((from_entry(entry(i, hex_len=20)),)))
    assert matcher.stats.timeouts.get("team-hostile", 0) == 0
    assert "s spent on" in matcher.stats.disabled["team-hostile"]
    assert matcher.stats.events == 300


def test_builtin_rules_are_not_switched_off_on_busy_input():
    matcher = Matcher(load_catalog())
    text = "ConnectionRefusedError: [Errno 111] Connect call failed ('10.107.0.3', 5432)"
    event = make_event((from_entry({"textPayload": text, "timestamp": "2025-09-05T10:00:00Z"}),))
    for _ in range(2000):
        assert [m.rule.id for m in matcher.match(event)] == ["postgres-connection-refused"]
    assert matcher.stats.disabled == {}


def test_time_another_thread_holds_the_gil_is_not_charged_to_a_rule():
    """The fast path's result thread unpickles in this process; its GIL time must not switch off a fast rule
    (wall time charged it: a 1 us regex measured milliseconds, and a large input used up its budget)."""
    import sys
    import threading

    matcher = Matcher(load_catalog(), budget_s=0.01)
    text = "ConnectionRefusedError: [Errno 111] Connect call failed ('10.107.0.3', 5432)"
    # Each event differs (attempt i): the matcher remembers the matches of an event it has seen.
    events = [
        make_event((from_entry({"textPayload": f"{text} (attempt {i})", "timestamp": "2025-09-05T10:00:00Z"}),))
        for i in range(1500)
    ]
    stop = threading.Event()

    def hog() -> None:  # pure Python: holds the GIL for whole switch intervals
        while not stop.is_set():
            sum(range(10_000))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.002)
    thread = threading.Thread(target=hog, daemon=True)
    thread.start()
    try:
        for event in events:
            assert [m.rule.id for m in matcher.match(event)] == ["postgres-connection-refused"]
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert matcher.stats.disabled == {}
