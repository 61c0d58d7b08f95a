"""Bounded memo dicts, defined once: every per-text cache of the run (trace shapes, parsed events, rule
matches, redactions) holds at most a fixed number of entries, whatever the input.

A full cache drops its older half (dicts keep insertion order), not everything: when more distinct keys
are in use than it holds (an instance per place, thousands at 10M entries), clearing it kept it a third
full on average, this half to all of it. What a cache answers never depends on what it still holds.
"""

from __future__ import annotations

import itertools
from typing import Any


def remember(cache: dict, key: Any, value: Any, size: int) -> None:
    """``cache[key] = value``, first making room when ``cache`` holds ``size`` entries."""
    if len(cache) >= size:
        for old in list(itertools.islice(cache, len(cache) // 2)):
            del cache[old]
    cache[key] = value
