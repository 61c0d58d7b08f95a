"""Redaction: the one place where secrets are removed before anything reaches a renderer.

Applied to every string (and every key) of the report model, so markdown, JSON and every later output
format share it. Each pattern marks the secret part with the group ``s``; only that part is masked, so
``postgresql://app:***@db`` still says which database it was.

Two passes make it hard to bypass. A secret seen in context (``password=hunter22``) is remembered, and
the second pass masks that literal value wherever else it appears: in a rule's problem text that
interpolated a capture, in a title, in an excerpt that was cut in the middle of the secret's context.
``learn`` feeds the first pass with raw log text that never reaches the model whole (full messages
before they are excerpted, the messages captures came from).

Extra patterns (``--redact PATTERN``, the project config's ``redact:`` list) mask their whole match, or
their group ``s`` when they have one; ``extra_patterns`` is the function the config loader feeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import regex as re

from triage.errors import TriageError

MASK = "***"
MIN_LEARNED = 6  # shorter values ("admin", "test1") are too common to mask everywhere they appear

_KEY_NAME = (
    r"[A-Za-z0-9_.-]*(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|credentials?|auth[_-]?key|_key|key_)[A-Za-z0-9_.-]*"
)
# A value after ``key=`` / ``key: ``: quoted, or up to a delimiter. An already-masked value is left alone.
_VALUE = r"""(?!\*\*\*)(?:"(?P<s>[^"\n]*)"|'(?P<s>[^'\n]*)'|(?P<s>[^\s,;&'")}\]]+))"""

DEFAULT_PATTERNS: tuple[str, ...] = (
    # PEM private keys (service-account JSON key files carry one, with literal "\n" escapes or newlines);
    # a block cut short (an excerpt, a line-by-line print) is masked to the end of the text.
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?P<s>.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    # JSON Web Tokens
    r"\b(?P<s>eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)",
    # Authorization header schemes; a bare "token" needs a digit in the value so prose survives.
    r"(?i)\b(?:bearer|basic)\s+(?P<s>[A-Za-z0-9._~+/=-]{8,})",
    r"(?i)\btoken\s+(?P<s>(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,})",
    r"\b(?P<s>(?:AKIA|ASIA)[0-9A-Z]{16})\b",  # AWS access key id
    r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{30,})\b",  # GitHub tokens
    r"\b(?P<s>github_pat_[A-Za-z0-9_]{30,})\b",
    r"\b(?P<s>glpat-[A-Za-z0-9_-]{20,})",  # GitLab
    r"\b(?P<s>xox[abposre]-[A-Za-z0-9-]{10,})",  # Slack tokens
    r"\b(?P<s>xapp-\d-[A-Za-z0-9-]{10,})",
    r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/]{20,})",  # Slack webhook URLs
    r"\b(?P<s>AIza[0-9A-Za-z_-]{35})",  # Google API keys
    r"\b(?P<s>ya29\.[0-9A-Za-z_-]{20,})",  # Google OAuth access tokens
    r"\b(?P<s>[sr]k_(?:live|test)_[0-9A-Za-z]{16,})\b",  # Stripe
    # user:password@ in any URL or DSN (postgresql://u:p@h, redis://:p@h, amqp://u:p@h). The password runs
    # to the last "@" of the URL, so one containing "@" is masked whole.
    r"(?i)\b[a-z][a-z0-9+.-]*://[^:/?#\s@\"'<>]*:(?P<s>[^\s\"'<>]+)@",
    # JSON / dict style: "api_key": "value", 'SECRET_KEY': 'value', "password": 123
    r"(?i)[\"']" + _KEY_NAME + r"[\"']\s*[:=]\s*" + _VALUE,
    # env / config / libpq style: SECRET_KEY=value, password: value, DB_PASSWORD = 'value', pwd=x
    r"(?i)\b" + _KEY_NAME + r"\s*[=:]\s*" + _VALUE,
    # A long high-entropy blob (a key printed line by line, a raw token): upper, lower and digits, 64+
    # base64 characters. Hex digests and ids (one case only) are left alone.
    r"(?<![A-Za-z0-9+/=_-])(?P<s>(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*\d)"
    r"[A-Za-z0-9+/]{64,}={0,2})(?![A-Za-z0-9+/=_-])",
)


def extra_patterns(patterns: Iterable[str], origin: str = "--redact") -> tuple[str, ...]:
    """Validate user patterns (``--redact``, the config's ``redact:`` list): TriageError naming the bad one."""
    out = []
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise TriageError(f"{origin}: a redaction pattern must be a non-empty string, got {p!r}")
        try:
            compiled = re.compile(p)
        except (re.error, OverflowError, RecursionError, MemoryError) as exc:
            raise TriageError(f"{origin}: invalid redaction pattern {p!r}: {exc}") from None
        if compiled.search(""):
            raise TriageError(f"{origin}: redaction pattern {p!r} matches the empty string")
        out.append(p)
    return tuple(out)


class Redactor:
    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._rules = [re.compile(p, re.DOTALL) for p in DEFAULT_PATTERNS]
        self._rules += [re.compile(p) for p in extra_patterns(extra)]
        self.seen: set[str] = set()  # secret values found so far, masked everywhere in the second pass

    def _mask(self, m: re.Match) -> str:
        if "s" not in m.re.groupindex or m.start("s") < 0:
            secret, start, end = m[0], m.start(), m.end()
        else:
            secret, start, end = m["s"], m.start("s"), m.end("s")
        if secret == MASK or not secret:
            return m[0]
        if len(secret) >= MIN_LEARNED and not secret.isalpha():
            # Plain words ("password: required") are masked here but not learned: masking them
            # everywhere would blank out prose.
            self.seen.add(secret)
        whole = m[0]
        return whole[: start - m.start()] + MASK + whole[end - m.start() :]

    def text(self, value: str) -> str:
        """Mask every secret shape in ``value`` and remember the values found."""
        for pattern in self._rules:
            value = pattern.sub(self._mask, value)
        return value

    def learn(self, value: str) -> None:
        """Remember the secrets inside raw text that reaches the model only in part."""
        self.text(value)

    def _literal(self) -> re.Pattern | None:
        if not self.seen:
            return None
        # Longest first, so a secret that contains another is masked whole; sorted for stable output.
        # Case-insensitive: display names capitalise ("billing-AKIA..." -> "Billing Akia...").
        ordered = sorted(self.seen, key=lambda s: (-len(s), s))
        return re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE)

    def model(self, value: Any) -> Any:
        """Redact every string (values and keys) inside a nested structure of dicts, lists and tuples."""
        first = _walk(value, self.text)
        literal = self._literal()
        return first if literal is None else _walk(first, lambda s: literal.sub(MASK, s))


def _walk(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {fn(k) if isinstance(k, str) else k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value
