"""Literal prefilter over raw bytes: which lines of a JSON-lines chunk may matter, before any parsing.

A rule can only match an event whose lower-cased message contains one of its literals (see literals.py),
and literals avoid every character JSON escapes, so a literal in a message is also in the raw line, byte
for byte up to ASCII case. One scan of a whole chunk (Hyperscan when installed, else Aho-Corasick) finds
the lines that hold any literal; every other line is benign for the rules and can be decoded lightly.

Two Unicode characters lower-case to ASCII letters (KELVIN SIGN -> "k", I WITH DOT ABOVE -> "i" plus a
combining dot), so a message could match a literal after ``str.lower()`` without the raw bytes doing so;
lines holding them (raw UTF-8 or ``\\uXXXX``-escaped) are always kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

try:  # optional: a much faster multi-literal scanner (x86-64 wheels); Aho-Corasick is the fallback
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform
    hyperscan = None

_CASE_TRAPS = ("\u212a".encode(), "\u0130".encode(), b"\\u212a", b"\\u0130")


class RawPrefilter:
    """Finds the lines of a bytes chunk that contain any of the literals (ASCII case-insensitive)."""

    def __init__(self, literals: Iterable[str | bytes]) -> None:
        lits = {(x.encode() if isinstance(x, str) else x).lower() for x in literals}
        lits.update(t.lower() for t in _CASE_TRAPS)
        self.literals = tuple(sorted(lit for lit in lits if lit))
        self._hs = None
        self._aho = None
        if hyperscan is not None:
            db = hyperscan.Database()
            exprs = [b"".join(b"\\x%02x" % c for c in lit) for lit in self.literals]
            db.compile(
                expressions=exprs,
                ids=list(range(len(exprs))),
                elements=len(exprs),
                flags=[hyperscan.HS_FLAG_CASELESS] * len(exprs),
            )
            self._hs = db
        else:  # pragma: no cover - exercised where hyperscan has no wheel
            aho = ahocorasick.Automaton()
            for lit in self.literals:
                aho.add_word(lit.decode("latin-1"), len(lit))
            aho.make_automaton()
            self._aho = aho

    @property
    def engine(self) -> str:
        return "hyperscan" if self._hs is not None else "aho-corasick"

    def hit_offsets(self, data: bytes) -> list[int]:
        """End offsets (exclusive) of literal occurrences in ``data``, unordered, possibly repeated."""
        ends: list[int] = []
        if self._hs is not None:
            add = ends.append

            def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
                add(end)

            self._hs.scan(data, match_event_handler=on_match)
        elif self._aho is not None:  # pragma: no cover
            text = data.decode("latin-1").lower()  # ASCII-only lowering, one char per byte
            ends = [end + 1 for end, _ in self._aho.iter(text)]
        return ends

    def line_starts(self, data: bytes) -> list[int]:
        """Start offsets of the lines (split on ``\\n``) of ``data`` that contain a literal, ascending."""
        starts: list[int] = []
        last_end = -1
        for end in sorted(set(self.hit_offsets(data))):
            if end <= last_end:
                continue  # another hit in a line already taken
            start = data.rfind(b"\n", 0, end - 1) + 1
            nl = data.find(b"\n", end - 1)
            last_end = len(data) if nl < 0 else nl
            starts.append(start)
        return starts
