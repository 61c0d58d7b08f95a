"""Where the built-in rules and report templates live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    # A wheel ships them inside the package (see pyproject's force-include); a checkout or an
    # editable install keeps them at the repository's top level.
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def builtin_rules_dir() -> Path:
    return _data_dir("rules")


def templates_dir() -> Path:
    return _data_dir("report_templates")


def schemas_dir() -> Path:
    """JSON Schemas for rule files and the report JSON (schemas/ in a checkout)."""
    return _data_dir("schemas")
