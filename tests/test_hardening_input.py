"""Input that a CI check must read whole or refuse: BOM and UTF-16 exports, a gcloud array on stdin, a text
log that starts with a brace, pipes and FIFOs (read once, as a stream), and the same input given twice."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "scenarios" / "crash-loop-db.jsonl"


def summary(*args: str, stdin: bytes | None = None) -> tuple[dict, list, list]:
    """(stats, issue keys, notes) of ``triage report --format json``."""
    from typer.testing import CliRunner

    from triage.cli import app

    result = CliRunner().invoke(app, ["report", *args, "--format", "json"], input=stdin)
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    report = orjson.loads(out[out.index("{") :])
    keys = sorted((i["service"], i["rule"], i["count"]) for i in report["issues"])
    return report["stats"], keys, report["notes"]["input"]


@pytest.fixture(scope="module")
def expected() -> tuple[dict, list]:
    stats, keys, _ = summary(str(SAMPLE))
    assert stats["entries"] > 10 and keys
    return stats, keys


def gcloud_array(path: Path) -> bytes:
    """What ``gcloud logging read --format=json`` prints: an indented array, newest first."""
    entries = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return orjson.dumps(entries[::-1], option=orjson.OPT_INDENT_2)


@pytest.mark.parametrize(
    "encoding",
    ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le"],
)
def test_bom_and_utf16_exports_read_as_the_utf8_file(encoding, expected, tmp_path: Path):
    text = SAMPLE.read_text(encoding="utf-8")
    boms = {"utf-16-le-bom": (codecs.BOM_UTF16_LE, "utf-16-le"), "utf-16-be-bom": (codecs.BOM_UTF16_BE, "utf-16-be")}
    bom, codec = boms.get(encoding, (b"", encoding))
    src = tmp_path / "export.json"
    src.write_bytes(bom + text.encode(codec))
    stats, keys, notes = summary(str(src))
    assert (stats["entries"], stats["malformed"], keys) == (expected[0]["entries"], 0, expected[1])
    if encoding != "utf-8-sig":
        assert any("decoded as utf-16" in n for n in notes), notes


def test_utf16_array_and_gzipped_bom(expected, tmp_path: Path):
    import gzip

    arr = tmp_path / "a.json"
    arr.write_bytes(gcloud_array(SAMPLE).decode().encode("utf-16"))
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(codecs.BOM_UTF8 + SAMPLE.read_bytes()))
    for path in (arr, gz):
        stats, keys, _ = summary(str(path))
        assert (stats["entries"], stats["malformed"], keys) == (expected[0]["entries"], 0, expected[1]), path


def test_gcloud_array_on_stdin_is_an_array(expected):
    stats, keys, _ = summary("-", stdin=gcloud_array(SAMPLE))
    assert (stats["entries"], stats["malformed"], keys) == (expected[0]["entries"], 0, expected[1])


def test_text_log_starting_with_a_brace_is_text(tmp_path: Path):
    lines = [f"{{req={n}}} 2025-09-05T10:00:{n:02d}Z ERROR upstream timed out" for n in range(3000)]
    src = tmp_path / "app.log"
    src.write_text("\n".join(lines) + "\n")
    stats, _, notes = summary(str(src))
    assert stats["entries"] == 3000 and stats["malformed"] == 0, notes


def test_json_lines_with_a_broken_first_line_stay_json_lines(expected, tmp_path: Path):
    src = tmp_path / "cut.jsonl"
    src.write_bytes(b'{"textPayload": "cut in the mi\n' + SAMPLE.read_bytes())
    stats, keys, _ = summary(str(src))
    assert (stats["entries"], stats["malformed"], keys) == (expected[0]["entries"] + 1, 1, expected[1])


def _fifo_with_writer(tmp_path: Path, data: bytes) -> tuple[Path, threading.Thread]:
    fifo = tmp_path / "logs.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:  # blocks until the reader opens it: proof it is opened once
            for i in range(0, len(data), 4096):  # small writes: the reader sees short reads
                f.write(data[i : i + 4096])
                f.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return fifo, writer


@pytest.mark.parametrize("form", ["lines", "array"])
def test_fifo_is_read_once_as_a_stream(form, expected, tmp_path: Path):
    data = SAMPLE.read_bytes() if form == "lines" else gcloud_array(SAMPLE)
    fifo, writer = _fifo_with_writer(tmp_path, data)
    # triage runs in its own process: forked workers of this one would inherit the writer's end of the FIFO
    # and the reader would never see its end (a test artefact, not something a shell's <(...) does).
    cmd = [sys.executable, "-m", "triage", "report", str(fifo), "--format", "json"]
    run = subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=120)
    writer.join(timeout=10)
    assert not writer.is_alive() and run.returncode == 0, run.stderr
    report = orjson.loads(run.stdout)
    keys = sorted((i["service"], i["rule"], i["count"]) for i in report["issues"])
    assert (report["stats"]["entries"], report["stats"]["malformed"], keys) == (expected[0]["entries"], 0, expected[1])


@pytest.mark.skipif(not shutil.which("cat") or not Path("/dev/stdin").exists(), reason="needs cat and /dev/stdin")
def test_cat_into_ci_dev_stdin_checks_every_entry(tmp_path: Path):
    cmd = [sys.executable, "-m", "triage", "ci", "--format", "json", "--fail-on", "none"]
    direct = subprocess.run([*cmd, str(SAMPLE)], capture_output=True, cwd=ROOT, timeout=120)
    piped = subprocess.run(
        f"cat {SAMPLE} | {' '.join(cmd)} /dev/stdin", shell=True, capture_output=True, cwd=ROOT, timeout=120
    )
    assert direct.returncode == piped.returncode == 0, piped.stderr
    a, b = orjson.loads(direct.stdout), orjson.loads(piped.stdout)
    assert a["stats"]["entries"] == b["stats"]["entries"] > 10
    assert [i["rule"] for i in a["issues"]] == [i["rule"] for i in b["issues"]]


def test_the_same_input_twice_is_read_once(expected, tmp_path: Path):
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(SAMPLE.read_bytes())
    link = tmp_path / "link.jsonl"
    link.symlink_to(SAMPLE)
    for args in ([str(SAMPLE), str(SAMPLE)], [str(SAMPLE), str(link)], [str(SAMPLE), str(copy)]):
        stats, keys, notes = summary(*args)
        assert (stats["entries"], keys) == (expected[0]["entries"], expected[1]), args
        assert any("read once" in n for n in notes), notes


def test_two_different_files_are_both_read(tmp_path: Path):
    other = ROOT / "samples" / "scenarios" / "deploy-failed.jsonl"
    one, _, _ = summary(str(SAMPLE))
    two, _, _ = summary(str(other))
    both, _, notes = summary(str(SAMPLE), str(other))
    assert both["entries"] == one["entries"] + two["entries"]
    assert not any("read once" in n for n in notes)


def test_an_overlong_line_is_capped_counted_and_noted(tmp_path: Path):
    from triage.sources.files import MAX_LINE, FileSource

    good = SAMPLE.read_bytes().splitlines(keepends=True)
    huge = b'{"textPayload": "' + b"x" * (3 * MAX_LINE) + b'"}\n'
    src = tmp_path / "huge.jsonl"
    src.write_bytes(good[0] + huge + b"".join(good[1:]))
    source = FileSource(str(src))
    got = list(source.entries())
    assert len(got) == len(good) and source.stats.malformed == 1 and source.stats.cut_lines == 1
    assert any("line longer than" in n and ":2:" in n for n in source.stats.notes)
    text = tmp_path / "huge.log"
    text.write_bytes(b"ERROR " + b"y" * (2 * MAX_LINE) + b"\nERROR next line\n")
    source = FileSource(str(text))
    got = list(source.entries())
    assert [len(e["textPayload"]) <= MAX_LINE for e in got] == [True, True]
    assert got[1]["textPayload"] == "next line" and source.stats.cut_lines == 1
