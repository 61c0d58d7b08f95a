"""Issue statuses and what each one means for the reader, defined once.

The logs give FIXED, PENDING or REGRESSED; an annotation can replace an open one with ACKNOWLEDGED,
MUTED or WONTFIX (a decision a person took). Every consumer (services, report sections, CI, JUnit,
SARIF, annotations, the diff against a previous report) asks this module instead of keeping its own list.
"""

from __future__ import annotations

FIXED, PENDING, REGRESSED = "FIXED", "PENDING", "REGRESSED"
ACKNOWLEDGED, MUTED, WONTFIX = "ACKNOWLEDGED", "MUTED", "WONTFIX"
LOG_STATUSES = (FIXED, PENDING, REGRESSED)
ANNOTATION_STATUSES = (ACKNOWLEDGED, MUTED, WONTFIX)

# The logs say the failure is still there. A service with such an issue is not healthy, an annotation may
# replace these (and only these), and CI fails on them.
OPEN = frozenset({PENDING, REGRESSED})
# Still to act on: open, or acknowledged (someone owns it, but it is not done). MUTED and WONTFIX are a
# decision already taken; FIXED is done.
NEEDS_ACTION = frozenset({PENDING, REGRESSED, ACKNOWLEDGED})


def is_open(status: str) -> bool:
    return status in OPEN


def needs_action(status: str) -> bool:
    return status in NEEDS_ACTION
