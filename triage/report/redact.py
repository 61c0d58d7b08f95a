"""Redaction: the one place where secrets are removed before anything reaches a renderer.

Applied to every string of the report model, so markdown, JSON and every later output format share it.
Patterns are ordered: whole-token shapes (keys, JWTs, vendor tokens) first, then credentials inside
URLs, then ``key = value`` pairs whose key names a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import regex as re

MASK = "***"

_KEY_NAME = (
    r"[A-Za-z0-9_.-]*(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|credentials?|auth[_-]?key|_key|key_)[A-Za-z0-9_.-]*"
)
DEFAULT_PATTERNS: tuple[tuple[str, str], ...] = (
    # PEM private keys (service-account JSON keys carry one, with literal or escaped newlines)
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", "-----PRIVATE KEY " + MASK + "-----"),
    # JSON Web Tokens
    (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", MASK),
    (r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", r"\1 " + MASK),
    (r"\bAKIA[0-9A-Z]{16}\b", MASK),  # AWS access key id
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", MASK),  # GitHub tokens
    (r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", MASK),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", MASK),  # Slack tokens
    (r"\bAIza[0-9A-Za-z_-]{35}\b", MASK),  # Google API keys
    (r"\bsk_(?:live|test)_[0-9A-Za-z]{16,}\b", MASK),  # Stripe
    # user:password@ in any URL or DSN (postgresql://u:p@h, redis://:p@h, amqp://u:p@h)
    (r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#\s@\"']*):[^@/\s\"']+@", r"\1:" + MASK + "@"),
    # libpq keyword DSNs: password=...
    (r"(?i)\b(password|passwd|pwd)\s*=\s*(?:'[^']*'|\"[^\"]*\"|[^\s;&,'\")]+)", r"\1=" + MASK),
    # JSON/dict style: "api_key": "value" / 'SECRET_KEY': 'value'
    (r"(?i)([\"']" + _KEY_NAME + r"[\"']\s*[:=]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s,}\]]+)", r"\1\"" + MASK + "\""),
    # env / config style: SECRET_KEY=value, password: value, DB_PASSWORD = value
    (r"(?i)\b(" + _KEY_NAME + r")(\s*[=:]\s*)(?![\"']?\*\*\*)(?:\"[^\"]*\"|'[^']*'|[^\s,;&'\")}\]]+)", r"\1\2" + MASK),
)


class Redactor:
    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        self._rules = [(re.compile(p, re.DOTALL), r) for p, r in DEFAULT_PATTERNS]
        self._rules += [(re.compile(p), MASK) for p in extra_patterns]

    def text(self, value: str) -> str:
        for pattern, repl in self._rules:
            value = pattern.sub(repl, value)
        return value

    def model(self, value: Any) -> Any:
        """Redact every string inside a nested structure of dicts, lists and tuples."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.model(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.model(v) for v in value]
        return value
