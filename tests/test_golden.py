"""Sample -> report, compared byte for byte with tests/golden (regenerate with tests/golden/regen.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.cases import CASES
from tests.golden.regen import ROOT, render


@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_golden(name, args, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = (Path(__file__).parent / "golden" / name).read_text(encoding="utf-8")
    assert render(args) == expected, f"run `python tests/golden/regen.py` if the change to {name} is intended"


def test_sample_report_has_the_reference_sections():
    text = (Path(__file__).parent / "golden" / "staging-2025-09-05.md").read_text(encoding="utf-8")
    for heading in (
        "# Staging Deployment Audit Report",
        "Date: 2025-09-05",
        "## Executive Summary",
        "## Issues Identified and Fixed",
        "## Environment Configuration Issues",
        "### Required Secrets Verification",
        "## Deployment Architecture Issues",
        "### Service Dependencies",
        "### Startup Sequence Problems",
        "## Recommendations",
        "### Immediate Actions",
        "### Long-term Improvements",
        "## Testing Requirements",
        "## Current Deployment Status",
        "## Next Steps",
        "## Logs and Evidence",
    ):
        assert heading in text, heading
    positions = [
        text.index(h)
        for h in (
            "## Executive Summary",
            "## Issues Identified",
            "## Environment",
            "## Deployment Arch",
            "## Recommendations",
            "## Testing",
            "## Current Deployment",
            "## Next Steps",
            "## Logs and Evidence",
        )
    ]
    assert positions == sorted(positions)
