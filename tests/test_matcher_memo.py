"""The matcher evaluates an event it has seen before once: a crash loop's thousand identical tracebacks cost
one evaluation, with the same matches each time, and what changes mid-run (a rule switched off) still holds."""

from __future__ import annotations

from triage.engine import Matcher, load_catalog
from triage.events import make_event
from triage.records import from_entry

TEXT = "ConnectionRefusedError: [Errno 111] Connect call failed ('10.107.0.3', 5432)"


def event(text: str = TEXT, severity: str = "ERROR", service: str = "api") -> object:
    return make_event(
        (
            from_entry(
                {
                    "textPayload": text,
                    "severity": severity,
                    "timestamp": "2025-09-05T10:00:00Z",
                    "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
                }
            ),
        )
    )


def counting(matcher: Matcher) -> list[str]:
    calls: list[str] = []
    original = matcher._match_rule  # what the matcher evaluates a rule with (match_rule wraps it)

    def match_rule(rule, ev):  # type: ignore[no-untyped-def]
        calls.append(rule.id)
        return original(rule, ev)

    matcher._match_rule = match_rule  # type: ignore[method-assign]
    return calls


def test_a_repeated_event_is_evaluated_once_with_the_same_matches() -> None:
    matcher = Matcher(load_catalog())
    calls = counting(matcher)
    first = matcher.match(event())
    n = len(calls)
    again = [matcher.match(event()) for _ in range(100)]
    assert n > 0 and len(calls) == n  # no rule evaluated again
    assert all(
        [(m.rule.id, dict(m.captures)) for m in ms] == [(m.rule.id, dict(m.captures)) for m in first] for ms in again
    )
    assert matcher.stats.events == matcher.stats.candidates == matcher.stats.matched == 101
    again[0][0].captures["host"] = "changed"  # type: ignore[index]
    assert matcher.match(event())[0].captures["host"] == "10.107.0.3"  # each match has its own captures


def test_what_a_rule_reads_tells_events_apart() -> None:
    """Severity, service and message are part of what is remembered: a change in any is a new evaluation."""
    matcher = Matcher(load_catalog())
    calls = counting(matcher)
    matcher.match(event())
    n = len(calls)
    matcher.match(event(severity="INFO"))
    matcher.match(event(service="other"))
    matcher.match(event(TEXT.replace("5432", "5433")))
    assert len(calls) == 4 * n


def test_a_rule_switched_off_after_it_was_remembered_stays_off() -> None:
    matcher = Matcher(load_catalog())
    assert [m.rule.id for m in matcher.match(event())] == ["postgres-connection-refused"]
    index = next(i for i, r in enumerate(matcher.catalog.rules) if r.id == "postgres-connection-refused")
    matcher._off.add(index)  # as _charge does once a rule is over its budget
    assert matcher.match(event()) == []
