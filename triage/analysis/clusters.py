"""Unclassified errors: cluster the error-like events no rule explains into templates.

A Drain-style miner (He et al., 2017) run on those events only, never on every line: each event is
reduced to one line (the final exception of a traceback, else its first line), variable parts are
masked (UUIDs, URLs, IPs, quoted values, paths, hex ids, numbers), and the tokens go down a fixed-depth
tree (service, token count, first token) to a list of clusters. An event joins the most similar cluster
of its leaf when at least ``SIMILARITY`` of the positions hold the same token; the positions that
differ become ``<*>``. Deterministic: events arrive in time order and ties break by creation order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import regex as re

SIMILARITY = 0.5
MAX_TOKENS = 80
MAX_CLUSTERS_PER_LEAF = 200
EXAMPLES = 3
WILDCARD = "<*>"

# (pattern, placeholder, regex that matches what the placeholder replaced): the last column lets
# ``template_regex`` turn a template back into a rule pattern.
MASKS: tuple[tuple[re.Pattern, str, str], ...] = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<UUID>",
     r"[0-9a-fA-F-]{36}"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+"), "<URL>", r"\S+"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<IP>", r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"),
    (re.compile(r"\"[^\"\n]*\""), '"<*>"', r"\"[^\"\n]*\""),
    (re.compile(r"'[^'\n]*'"), "'<*>'", r"'[^'\n]*'"),
    (re.compile(r"(?<![\w.])(?:/[\w.@%+~-]+){2,}/?"), "<PATH>", r"(?:/[\w.@%+~-]+)+/?"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b"), "<HEX>",
     r"(?:0x)?[0-9a-fA-F]+"),
    (re.compile(r"\b\d+(?:\.\d+)*\b"), "<NUM>", r"\d+(?:\.\d+)*"),
)  # fmt: skip
_PLACEHOLDERS = {ph: rx for _, ph, rx in MASKS} | {WILDCARD: r"\S+"}
_SPLIT = re.compile("(" + "|".join(re.escape(p) for p in sorted(_PLACEHOLDERS, key=len, reverse=True)) + ")")


def mask(text: str) -> str:
    for pattern, placeholder, _ in MASKS:
        text = pattern.sub(placeholder, text)
    return text


def event_line(event) -> str:
    """The one line that identifies an event: its surfaced exception, else its first non-empty line."""
    if event.exceptions:
        etype, msg = event.exceptions[-1]
        return f"{etype}: {msg}" if msg else etype
    lines = [line.strip() for line in event.message.splitlines() if line.strip()]
    if not lines:
        return ""
    if event.is_traceback:
        return lines[-1][:500]
    return lines[0][:500]


@dataclass
class Cluster:
    service: str
    tokens: list[str]
    count: int = 0
    first_seen: str = ""
    last_seen: str = ""
    examples: list[str] = field(default_factory=list)  # the identifying lines of the first few events
    messages: list[str] = field(default_factory=list)  # their full texts (for rule examples)
    logs: set[str] = field(default_factory=set)

    @property
    def template(self) -> str:
        return " ".join(self.tokens)

    def add(self, event, line: str) -> None:
        self.count += 1
        ts = event.timestamp
        if ts and (not self.first_seen or ts < self.first_seen):
            self.first_seen = ts
        if ts > self.last_seen:
            self.last_seen = ts
        if len(self.examples) < EXAMPLES:
            self.examples.append(line)
            self.messages.append(event.message)
        self.logs.add(event.log)


def _similarity(template: list[str], tokens: list[str]) -> tuple[float, int]:
    same = wild = 0
    for a, b in zip(template, tokens, strict=True):
        if a == WILDCARD:
            wild += 1
        elif a == b:
            same += 1
    return same / len(tokens), wild


class Miner:
    def __init__(self, similarity: float = SIMILARITY, scrub: Callable[[str], str] | None = None) -> None:
        self.similarity = similarity
        # Secrets are masked before the variable parts: <NUM> would split a token ("xoxb-<NUM>-<NUM>-tail")
        # so that no secret pattern recognises it later and its tail survives in the template. The caller
        # passes the run's redactor (analysis cannot import the report layer).
        self._scrub = scrub or (lambda line: line)
        self.clusters: list[Cluster] = []
        self._leaves: dict[tuple[str, int, str], list[Cluster]] = {}

    def add(self, event) -> Cluster | None:
        line = self._scrub(event_line(event))
        tokens = mask(line).split()[:MAX_TOKENS]
        if not tokens:
            return None
        service = event.service or "(unknown)"
        first = tokens[0] if not any(ch.isdigit() for ch in tokens[0]) and "<" not in tokens[0] else WILDCARD
        leaf = self._leaves.setdefault((service, len(tokens), first), [])
        best: Cluster | None = None
        best_key = (-1.0, -1)
        for cluster in leaf:
            key = _similarity(cluster.tokens, tokens)
            if key > best_key:
                best, best_key = cluster, key
        if best is None or best_key[0] < self.similarity:
            if len(leaf) >= MAX_CLUSTERS_PER_LEAF:
                best = leaf[-1]  # a flood of distinct lines: fold the rest into the last cluster
            else:
                best = Cluster(service, list(tokens))
                leaf.append(best)
                self.clusters.append(best)
        best.tokens = [a if a == b else WILDCARD for a, b in zip(best.tokens, tokens, strict=True)]
        best.add(event, line)
        return best


def mine(events: Iterable, scrub: Callable[[str], str] | None = None) -> list[Cluster]:
    """Clusters of the given (unmatched, error-like) events, largest first; ``scrub`` redacts each line."""
    miner = Miner(scrub=scrub)
    for event in events:
        miner.add(event)
    return sorted(miner.clusters, key=lambda c: (-c.count, c.first_seen, c.service, c.template))


def coverage(error_events: int, unmatched: int) -> float:
    """Share of error-like events the catalog explains; 1.0 when there were none to explain."""
    if error_events <= 0:
        return 1.0
    return round((error_events - unmatched) / error_events, 4)


def template_regex(template: str) -> str:
    """A regex matching every line the template stands for (placeholders become their patterns)."""
    parts = []
    for token in template.split():
        pieces = _SPLIT.split(token)
        parts.append("".join(_PLACEHOLDERS.get(p, re.escape(p)) for p in pieces if p))
    return r"\s+".join(parts)
