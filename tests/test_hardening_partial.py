"""A pull kept with ``--allow-partial`` is marked in the file itself: every later report and check on it says
PARTIAL, and ``ci`` exits 3 unless told ``--allow-partial`` again. Also: the pull never writes through a
``.part`` link someone left behind."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.fake_logging import FakeLogging, sample_entries
from triage.cli import app
from triage.sources.files import PARTIAL_KEY

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ("--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def partial_pull(fake: FakeLogging, out: Path) -> None:
    fake.reset(sample_entries(1500))  # benign traffic over two pages
    fake.fail(None, 403)  # the first page comes, the second is refused
    base = ["pull", "--project", "demo", *WINDOW, "--anonymous", "--api-endpoint", fake.rest_url]
    code, printed = invoke(*base, "--allow-partial", "--out", str(out), "--quiet")
    assert code == 0 and "PARTIAL" in printed, printed


@pytest.mark.parametrize("name", ["pulled.jsonl", "pulled.jsonl.gz"])
def test_a_partial_pull_never_passes_a_later_check(name: str, fake: FakeLogging, tmp_path: Path):
    out = tmp_path / name
    partial_pull(fake, out)
    data = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
    marker = orjson.loads(data.split(b"\n", 1)[0])
    assert PARTIAL_KEY in marker and "403" in marker[PARTIAL_KEY]["reason"]

    code, printed = invoke("ci", str(out))
    assert code == 3 and printed.startswith("triage ci: PARTIAL"), printed
    code, printed = invoke("report", str(out), "--format", "json")
    assert code == 0, printed
    report = orjson.loads(printed[printed.index("{") :])
    assert report["partial"] is True and any("pull --allow-partial" in n for n in report["notes"]["input"])
    assert report["stats"]["malformed"] == 0  # the marker is not an entry
    assert report["stats"]["entries"] == len(data.splitlines()) - 1
    code, printed = invoke("report", str(out))
    assert "PARTIAL" in printed

    code, printed = invoke("ci", str(out), "--allow-partial")  # accepted knowingly: pass, still said
    assert code == 0 and "partly" in printed, printed


def test_a_partial_file_on_stdin_is_partial(fake: FakeLogging, tmp_path: Path):
    out = tmp_path / "pulled.jsonl"
    partial_pull(fake, out)
    with open(out, "rb") as stdin:
        run = subprocess.run([sys.executable, "-m", "triage", "ci", "-"], stdin=stdin, capture_output=True, cwd=ROOT)
    assert run.returncode == 3 and run.stdout.startswith(b"triage ci: PARTIAL"), run.stdout + run.stderr


def test_a_whole_pull_has_no_marker(fake: FakeLogging, tmp_path: Path):
    fake.reset(sample_entries(1500))
    out = tmp_path / "whole.jsonl"
    base = ["pull", "--project", "demo", *WINDOW, "--anonymous", "--api-endpoint", fake.rest_url]
    code, printed = invoke(*base, "--allow-partial", "--out", str(out), "--quiet")
    assert code == 0, printed
    assert PARTIAL_KEY.encode() not in out.read_bytes()[:200]
    code, printed = invoke("ci", str(out))
    assert code == 0 and printed.startswith("triage ci: PASS"), printed


def test_pull_never_writes_through_a_planted_part_link(fake: FakeLogging, tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "pulled.jsonl"
    (tmp_path / "pulled.jsonl.part").symlink_to(victim)
    fake.reset(sample_entries(10))
    base = ["pull", "--project", "demo", *WINDOW, "--anonymous", "--api-endpoint", fake.rest_url]
    code, printed = invoke(*base, "--out", str(out), "--quiet")
    assert code == 0, printed
    assert victim.read_text() == "precious\n" and len(out.read_bytes().splitlines()) == 10
