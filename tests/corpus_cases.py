"""The real-world corpus (tests/corpus/): load the excerpts and run triage on them in both forms.

Shared by tests/test_corpus.py and benchmarks/recall.py so both judge an excerpt the same way: an
expected rule id is found when it is an issue's rule or a symptom nested under an issue.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml

from triage.analysis.findings import find
from triage.engine.catalog import Catalog, load_catalog
from triage.engine.matcher import Matcher
from triage.pipeline import collect
from triage.sources.files import FileSource
from triage.sources.pasted import strip_prefixes

CORPUS = Path(__file__).parent / "corpus"
RUNTIMES = ("python", "node", "go", "java", "ruby", "php", "cloudrun")
FORMS = ("text", "jsonl")
LOGS = {
    "stdout": "run.googleapis.com%2Fstdout",
    "stderr": "run.googleapis.com%2Fstderr",
    "system": "run.googleapis.com%2Fvarlog%2Fsystem",
    "requests": "run.googleapis.com%2Frequests",
}
REQUIRED = ("source", "runtime", "expect", "note", "text")


@dataclass(frozen=True)
class Case:
    path: Path
    source: str
    runtime: str
    expect: frozenset[str]
    note: str
    text: str
    log: str = "stderr"

    @property
    def id(self) -> str:
        return f"{self.runtime}/{self.path.stem}"

    @property
    def benign(self) -> bool:
        return not self.expect


@functools.cache
def vocabulary() -> frozenset[str]:
    """The label ids, read from the corpus README (the one place they are listed)."""
    text = (CORPUS / "README.md").read_text(encoding="utf-8")
    section = text.split("## Label vocabulary", 1)[1]
    return frozenset(re.findall(r"`([a-z0-9-]+)`", section))


def load(path: Path) -> Case:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or any(k not in doc for k in REQUIRED):
        raise ValueError(f"{path}: needs the keys {', '.join(REQUIRED)}")
    return Case(
        path=path,
        source=str(doc["source"]),
        runtime=str(doc["runtime"]),
        expect=frozenset(doc["expect"] or ()),
        note=str(doc["note"]),
        text=str(doc["text"]),
        log=str(doc.get("log", "stderr")),
    )


@functools.cache
def cases(root: Path = CORPUS) -> tuple[Case, ...]:
    """The excerpts of a corpus directory (``<runtime>/<slug>.yaml``): the project's, or a held-out set."""
    return tuple(load(p) for p in sorted(root.glob("*/*.yaml")))


def jsonl_entries(case: Case) -> list[dict[str, Any]]:
    """The excerpt as Cloud Run writes unstructured output: one entry per non-blank line, no severity,
    one instance, a millisecond apart. Prefixes that a tool between the container and the paste added
    (docker compose, foreman, kubectl, Heroku, terminal colours) are not part of what the container wrote."""
    start = datetime(2025, 9, 5, 10, 0, tzinfo=UTC)
    out = []
    for i, line in enumerate(ln for ln in case.text.splitlines() if ln.strip()):
        ts = (start + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append(
            {
                "timestamp": ts,
                "logName": f"projects/corpus/logs/{LOGS.get(case.log, LOGS['stderr'])}",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": "corpus", "revision_name": "corpus-00001-abc", "project_id": "corpus"},
                },
                "labels": {"instanceId": "00corpus"},
                "insertId": f"{i:024x}",
                "textPayload": strip_prefixes(line, tools_only=True).message,
            }
        )
    return out


def write_form(case: Case, form: str, directory: Path) -> Path:
    if form == "text":
        path = directory / f"{case.path.stem}.log"
        path.write_text(case.text, encoding="utf-8")
    else:
        path = directory / f"{case.path.stem}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in jsonl_entries(case)))
    return path


@functools.cache
def catalog() -> Catalog:
    return load_catalog()


def found_ids(path: Path) -> frozenset[str]:
    """Rule ids triage reports for a file: each issue's rule and the symptoms nested under it."""
    cat = catalog()
    collected = collect([FileSource(str(path))], Matcher(cat))
    issues = find(collected, cat.rules).issues
    return frozenset(i.rule.id for i in issues) | frozenset(s.rule.id for i in issues for s in i.symptoms)
