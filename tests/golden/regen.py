"""Regenerate the golden reports: `python tests/golden/regen.py`. Review the diff before committing.

Golden files are never edited by hand; this script is the only writer.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.golden.cases import CASES  # noqa: E402
from triage.cli import app  # noqa: E402


def render(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"triage {' '.join(args)} exited {result.exit_code}: {result.output}")
    return result.stdout


def main() -> None:
    import os

    os.chdir(ROOT)
    for name, args in CASES:
        (ROOT / "tests" / "golden" / name).write_text(render(args), encoding="utf-8")
        print(f"wrote tests/golden/{name}")


if __name__ == "__main__":
    main()
