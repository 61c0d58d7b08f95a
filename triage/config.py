"""Project config ``triage.yaml``: what a team knows that the logs do not.

Found in the working directory or given with ``--config``. Every key is optional::

    project: netra
    environment: staging
    services:
      netra-auth-service: Auth Service            # display name
      netra-backend-staging:
        display_name: Backend
        depends_on: [PostgreSQL]
        required_secrets: [postgres-password-staging]
    required_secrets: [jwt-secret-key-staging, secret-key-staging]
    dependencies:                                  # service -> what it needs (added to what logs show)
      netra-auth-service: [Redis, PostgreSQL]
    rules: [team-rules/]                           # extra rule folders, relative to this file
    disable: [container-exit-nonzero]
    annotations: annotations.yaml                  # a file (relative to this file) or an inline list
    redact: ["acme-[0-9a-f]{32}"]                  # extra secret patterns for the redactor

Options on the command line win over the file; lists (rules, disable, redact) are combined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex as re

from triage.analysis.annotations import Annotation, parse_annotations
from triage.engine.yamlpos import line_of, load_yaml
from triage.errors import ConfigError, RuleError

DEFAULT_NAME = "triage.yaml"
KEYS = ("project", "environment", "services", "required_secrets", "dependencies", "rules", "disable",
        "annotations", "redact")  # fmt: skip
SERVICE_KEYS = ("display_name", "depends_on", "required_secrets")


@dataclass(frozen=True)
class ProjectConfig:
    path: str = ""
    project: str = ""
    environment: str = ""
    display_names: Mapping[str, str] = field(default_factory=dict)
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required_secrets: tuple[str, ...] = ()  # project-wide
    service_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    redact: tuple[str, ...] = ()


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, message: str, container: Any = None, key: Any = None, where: str | None = None) -> ConfigError:
        line = line_of(container, key) if container is not None else None
        return ConfigError(message, path=self.name, line=line, key=where if where is not None else str(key or ""))

    def text(self, d: Mapping, key: str, where: str | None = None) -> str:
        value = d.get(key, "")
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.error("must be a string", d, key, where or key)
        return str(value)

    def strings(self, d: Mapping, key: str, where: str | None = None) -> tuple[str, ...]:
        value = d.get(key)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            raise self.error("must be a list of strings", d, key, where or key)
        return tuple(items)


def load_annotations_file(path: Path) -> tuple[Annotation, ...]:
    """An annotations file: ``annotations: [...]`` (or the bare list)."""
    name = str(path)
    try:
        doc = load_yaml(path, name)
    except RuleError as exc:
        raise ConfigError(exc.message, path=exc.path, line=exc.line) from None
    if isinstance(doc, Mapping):
        extra = [k for k in doc if k != "annotations"]
        if extra:
            raise ConfigError("unknown top-level key (only 'annotations')", path=name, line=line_of(doc, extra[0]),
                              key=str(extra[0]))  # fmt: skip
        doc = doc.get("annotations")
    return tuple(parse_annotations(doc or [], name))


def load_config(path: Path) -> ProjectConfig:
    name = str(path)
    try:
        doc = load_yaml(path, name)
    except RuleError as exc:
        raise ConfigError(exc.message, path=exc.path, line=exc.line) from None
    if doc is None:
        return ProjectConfig(path=name)
    r = _Reader(name)
    if not isinstance(doc, Mapping):
        raise ConfigError("a project config is a mapping (see docs: triage.yaml)", path=name, line=1)
    for key in doc:
        if key not in KEYS:
            raise r.error(f"unknown key (expected one of: {', '.join(KEYS)})", doc, key)
    base = path.parent
    display: dict[str, str] = {}
    deps: dict[str, tuple[str, ...]] = {}
    secrets: dict[str, tuple[str, ...]] = {}
    services = doc.get("services") or {}
    if not isinstance(services, Mapping):
        raise r.error("must be a mapping of service name to display name or settings", doc, "services")
    for svc, value in services.items():
        where = f"services.{svc}"
        if isinstance(value, str):
            display[str(svc)] = value
            continue
        if not isinstance(value, Mapping):
            raise r.error("must be a display name or a mapping", services, svc, where)
        for key in value:
            if key not in SERVICE_KEYS:
                raise r.error(f"unknown key (expected one of: {', '.join(SERVICE_KEYS)})", value, key, f"{where}.{key}")
        if value.get("display_name"):
            display[str(svc)] = r.text(value, "display_name", f"{where}.display_name")
        deps[str(svc)] = r.strings(value, "depends_on", f"{where}.depends_on")
        secrets[str(svc)] = r.strings(value, "required_secrets", f"{where}.required_secrets")
    dependencies = doc.get("dependencies") or {}
    if not isinstance(dependencies, Mapping):
        raise r.error("must be a mapping of service name to a list of dependencies", doc, "dependencies")
    for svc in dependencies:
        merged = deps.get(str(svc), ()) + r.strings(dependencies, svc, f"dependencies.{svc}")
        deps[str(svc)] = tuple(dict.fromkeys(merged))
    redact = r.strings(doc, "redact")
    for i, pattern in enumerate(redact):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise r.error(f"invalid regex: {exc}", doc, "redact", f"redact[{i}]") from None
    raw_notes = doc.get("annotations")
    if isinstance(raw_notes, str):
        annotations = load_annotations_file(base / raw_notes)
    else:
        annotations = tuple(parse_annotations(raw_notes, name))
    return ProjectConfig(
        path=name,
        project=r.text(doc, "project"),
        environment=r.text(doc, "environment"),
        display_names=display,
        dependencies={k: v for k, v in deps.items() if v},
        required_secrets=r.strings(doc, "required_secrets"),
        service_secrets={k: v for k, v in secrets.items() if v},
        rules=tuple(base / p for p in r.strings(doc, "rules")),
        disable=r.strings(doc, "disable"),
        annotations=annotations,
        redact=redact,
    )


def find_config(explicit: Path | None, cwd: Path | None = None) -> ProjectConfig | None:
    """``--config PATH`` (must exist), else ./triage.yaml when present, else None."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError("no such config file", path=str(explicit))
        return load_config(explicit)
    default = (cwd or Path.cwd()) / DEFAULT_NAME
    return load_config(default) if default.is_file() else None
