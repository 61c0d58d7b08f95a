"""The golden cases: (output file, triage command arguments). Shared by the test and the regen script."""

from __future__ import annotations

SAMPLE = "samples/staging-2025-09-05.jsonl"
CASES: list[tuple[str, list[str]]] = [
    ("staging-2025-09-05.md", ["report", SAMPLE, "--env", "staging", "--date", "2025-09-05"]),
    ("staging-2025-09-05.json", ["report", SAMPLE, "--env", "staging", "--date", "2025-09-05", "--format", "json"]),
    ("staging-2025-09-05.analyze.json", ["analyze", SAMPLE, "--format", "json"]),
]
for _name in ("crash-loop-db", "regression", "healthy-unknown-error", "deploy-ok", "deploy-failed"):
    CASES.append((f"{_name}.md", ["report", f"samples/scenarios/{_name}.jsonl", "--env", "production"]))
