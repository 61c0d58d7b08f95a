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

from triage.caches import remember
from triage.errors import TriageError

MASK = "***"
MIN_LEARNED = 6  # shorter values ("admin", "test1") are too common to mask everywhere they appear

TIMEOUT_S = 0.5  # per pattern and string; the built-in patterns are linear and take milliseconds on 100 KB
TIMED_OUT = "*** (redaction timed out)"  # what a string becomes when a pattern could not finish on it

# Every repetition below is bounded and every key or token starts at a boundary (a lookbehind), so a
# pattern tries a bounded number of steps per starting position: linear in the text, never quadratic.
_KEY_CHARS = r"[\w.-]"
# Key names that say "secret" anywhere inside them (DB_PASSWORD, x-goog-signature, client_secret) ...
_KEY_INSIDE = (
    r"secret|passw|passphrase|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key"
    r"|signature|_key|key_"
)
# ... and short ones that are only a secret as the whole name or its last part (DB_PASS, REDIS_AUTH, sig,
# pw): "bypass" or "oauth_mode" are not secrets.
_KEY_WHOLE = r"pass|pw|auth|key|sig|session(?:id)?"
# ``=`` / ``:`` with spaces, or their URL encodings (password%3Dhunter2 in a logged query string).
# On one line: "key:\n-----BEGIN" is a label, not a value.
_KEY_SEP = r"""["']?(?:[ \t]{0,8}[=:][ \t]{0,8}|%3[dDaA])"""
# A short name takes ``:`` only as "name: value" or quoted ("auth": ...): "auth:missing-config-env" is an
# issue id of the service auth, and "key:value" an ordinary pair, not a secret.
_WHOLE_SEP = r"""(?:["'][ \t]{0,8}[=:]|[ \t]{0,8}=|:[ \t]{1,8}|%3[dDaA])[ \t]{0,8}"""
_KEY_NAME = (
    rf"(?<![\w.%-])(?:(?={_KEY_CHARS}{{0,48}}?(?:{_KEY_INSIDE})){_KEY_CHARS}{{1,64}}{_KEY_SEP}"
    rf"|(?:{_KEY_CHARS}{{0,48}}[_.-])?(?:{_KEY_WHOLE}){_WHOLE_SEP})"
)
# A value: quoted (also Python bytes, b'...'), or up to a delimiter or an encoded "&". A masked value is
# left alone, and so is a regex-escaped one (``password=\*\*\*`` in a drafted rule's pattern, built from
# a redacted template): masking it again would eat the rest of the pattern and break the rule.
_MASKED = r"(?:\*\*\*|\\\*\\\*\\\*)"  # the mask, or the mask as a regex escapes it
_VALUE = (
    rf"""(?!{_MASKED})"""
    r"""(?:b?"(?P<s>[^"\n]{0,512})"|b?'(?P<s>[^'\n]{0,512})'"""
    r"""|(?P<s>(?:[^\s,;&'")}\]%]|%(?!26)){1,512}))"""
)
_B64 = r"[A-Za-z0-9+/]"
_MIXED = rf"(?={_B64}{{0,4096}}?[A-Z])(?={_B64}{{0,4096}}?[a-z])(?={_B64}{{0,4096}}?\d)"  # upper, lower, digit
_AWS_ID = r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
_AWS_SECRET = rf"(?<![A-Za-z0-9+/=])(?P<s>{_B64}{{40}})(?![A-Za-z0-9+/=])"

DEFAULT_PATTERNS: tuple[str, ...] = (
    # PEM private keys (service-account JSON key files carry one, with literal "\n" escapes or newlines);
    # a block cut short (an excerpt, a line-by-line print) is masked to the end of the text or 8 KB, the
    # longest key; what follows is base64, which the blob patterns below catch.
    r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----(?P<s>(?:(?!-----END ).){0,8192})(?:-----END [A-Z ]{0,20}PRIVATE KEY-----)?",
    # The tail of a key logged line by line: the base64 right before its END line.
    rf"(?<![A-Za-z0-9+/=])(?P<s>{_B64}{{1,4096}}={{0,2}})(?:\\n|\s){{0,4}}-----END [A-Z ]{{0,20}}PRIVATE KEY-----",
    # JSON Web Tokens
    r"\b(?P<s>eyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{0,4096})",
    # Authorization header schemes; a bare "token" needs a digit in the value so prose survives.
    r"(?i)\b(?:bearer|basic)\s{1,8}(?P<s>[A-Za-z0-9._~+/=-]{8,4096})",
    r"(?i)\btoken\s{1,8}(?P<s>(?=[A-Za-z._~+/=-]{0,4096}\d)[A-Za-z0-9._~+/=-]{8,4096})",
    # An AWS secret key printed next to its access key id (either order), before the id itself is masked.
    _AWS_ID + r"[^A-Za-z0-9+/]{1,20}" + _AWS_SECRET,
    _AWS_SECRET + r"[^A-Za-z0-9+/]{1,20}" + _AWS_ID,
    r"\b(?P<s>(?:AKIA|ASIA)[0-9A-Z]{16})\b",  # AWS access key id
    r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{30,255})\b",  # GitHub tokens
    r"\b(?P<s>github_pat_[A-Za-z0-9_]{30,255})\b",
    r"\b(?P<s>glpat-[A-Za-z0-9_-]{20,255})",  # GitLab
    r"\b(?P<s>xox[abposre]-[A-Za-z0-9-]{10,255})",  # Slack tokens
    r"\b(?P<s>xapp-\d-[A-Za-z0-9-]{10,255})",
    r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/]{20,255})",  # Slack webhook URLs
    r"\b(?P<s>AIza[0-9A-Za-z_-]{35})",  # Google API keys
    r"\b(?P<s>ya29\.[0-9A-Za-z_-]{20,4096})",  # Google OAuth access tokens
    r"\b(?P<s>[sr]k_(?:live|test)_[0-9A-Za-z]{16,255})\b",  # Stripe
    # user:password@ in any URL or DSN (postgresql://u:p@h, redis://:p@h, amqp://u:p@h). The password runs
    # to the last "@" within 256 characters, so one containing "@" is masked whole.
    r"""(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://[^:/?#\s@"'<>]{0,128}:(?P<s>(?!"""
    + _MASKED
    + r"""@)[^\s"'<>]{1,256})@""",
    # The same without a scheme (admin:hunter2@db.internal): a name, a password, then a host name.
    r"""(?<![\w.%+/:@-])[\w.+-]{1,64}:(?P<s>(?!""" + _MASKED + r"""@)[^\s:/@"'<>]{1,128})@(?=[A-Za-z0-9-]{1,63}\b)""",
    # key = value in JSON, dicts, env files, query strings, cookies, libpq: "api_key": "v", 'password':
    # b'v', SECRET_KEY=v, DB_PASS=v, ?sig=v&key=v, Cookie: sessionid=v, password%3Dv.
    r"(?i)" + _KEY_NAME + _VALUE,
    # A long high-entropy blob (a key printed line by line, a raw token): upper, lower and digits, 64+
    # base64 characters. Hex digests and ids (one case only) are left alone.
    rf"(?<![A-Za-z0-9+/=_-])(?P<s>{_MIXED}{_B64}{{64,}}={{0,2}})(?![A-Za-z0-9+/=_-])",
    # A line that is one shorter mixed base64 token with its padding: the last line of a PEM body.
    rf"(?m)^\s{{0,8}}(?P<s>{_MIXED}{_B64}{{16,63}}={{1,2}})\s{{0,8}}$",
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


_MEMO_SIZE = 4096
_MEMO_TEXT = 4096


class Redactor:
    def __init__(self, extra: Iterable[str] = (), timeout_s: float = TIMEOUT_S) -> None:
        self._rules = [re.compile(p, re.DOTALL) for p in DEFAULT_PATTERNS]
        self._builtin = len(self._rules)
        self._rules += [re.compile(p) for p in extra_patterns(extra)]
        self.timeout_s = timeout_s
        self._off: set[int] = set()  # user patterns switched off after a timeout
        self.seen: set[str] = set()  # secret values found so far, masked everywhere in the second pass
        self.notes: list[str] = []  # what went wrong (a user pattern switched off), for the report's notes
        # text() of recent values: a run scrubs the same lines many times over (a crash loop's, a template's).
        # The answer depends on the value and the patterns still on; only answers without a timeout are kept.
        self._memo: dict[str, str] = {}

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
        memo = self._memo
        done = memo.get(value)
        if done is not None:
            return done  # its secrets are in ``seen`` already
        original = value
        for index, pattern in enumerate(self._rules):
            if index in self._off:
                continue
            try:
                value = pattern.sub(self._mask, value, timeout=self.timeout_s)
            except TimeoutError:
                # Never leak on a timeout: the pattern may have been about to mask something here.
                self._timed_out(index)
                return TIMED_OUT
        if len(original) <= _MEMO_TEXT:
            remember(memo, original, value, _MEMO_SIZE)
        return value

    def _timed_out(self, index: int) -> None:
        """A user pattern that timed out once would time out on every similar line: switch it off.

        Notes name a user pattern by its position, never by its text: the pattern may spell the secret."""
        if index < self._builtin:
            self._note(f"a built-in redaction pattern (#{index + 1}) timed out; the string was masked whole")
            return
        self._off.add(index)
        self._memo.clear()  # answers given with the pattern on
        self._note(
            f"redaction pattern #{index - self._builtin + 1} of --redact / config redact: timed out after "
            f"{self.timeout_s:g} s and was switched off for the rest of the run; the string was masked whole"
        )

    def _note(self, note: str) -> None:
        if note not in self.notes:  # one note per pattern, however many strings it timed out on
            self.notes.append(note)

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
