"""Hostile generated exports for pinning the engine's results: the shapes that make reassembly and
counting hard, mixed at random (seeded) on few instances so they collide.

- stack traces in every runtime, whole or cut above their head, one entry per line, some lines light
  (no rule literal, no severity) and some not; exception lines right after frames; chained exceptions;
- benign multi-line messages (an opener, then indented lines), JSON payloads whose message is indented
  or holds newlines, lines that look like exception lines ("INFO: ...") but are not;
- timestamps equal, slightly out of order, exactly MAX_GAP_S apart and just over it, in other formats;
- escaped quotes and slashes, \\u escapes, non-ASCII and the Unicode case traps, long lines;
- request and system lines interleaved, two revisions and a job.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from triage.events import MAX_GAP_S

_REVS = (("api", "api-00001-abc"), ("api", "api-00002-def"), ("worker", "worker-00003-xyz"))
_INSTANCES = ("00aa", "00bb", "00cc")
_BENIGN = (
    'order "download" updated by Zoë',
    "[06:00:04] processed cache import for queue id=809675 in 64ms",
    'INFO:     169.254.1.1:24445 - "GET /static/app.js HTTP/1.1" 200 OK',
    "INFO: worker booted",
    "Starting: warm cache",
    "Done",
    "report \\/ path a\\b 東京",
    "\u212aelvin sign and \u0130 dotted",
    'user said: "refused" was the word, not an error',
)
_INDENTED = ("  retrying invoice in 2s (attempt 1)", "    detail: x=1", "\tat the end", "  ")
_EXC = ("ValueError: boom", "KeyError: 'x'", "RuntimeError", "psycopg2.OperationalError: connection refused")


def _py_trace(rng: random.Random, head: bool) -> list[str]:
    lines = ["Traceback (most recent call last):"] if head else []
    for i in range(rng.randint(1, 3)):
        lines += [f'  File "/app/mod{i}.py", line {10 + i}, in f{i}', f"    call{i}()"]
    lines.append(rng.choice(_EXC))
    if rng.random() < 0.3:
        lines += ["", "During handling of the above exception, another exception occurred:", ""]
        lines += ["Traceback (most recent call last):", '  File "/app/x.py", line 1, in <module>', "OSError: bad"]
    return lines


def _trace(rng: random.Random) -> list[str]:
    kind = rng.randrange(6)
    if kind == 0:
        return _py_trace(rng, head=True)
    if kind == 1:
        return _py_trace(rng, head=False)  # cut above its head
    if kind == 2:
        return [
            'Exception in thread "main" java.lang.IllegalStateException: bad',
            "\tat com.x.Y.run(Y.java:12)",
            "Caused by: java.net.ConnectException: Connection refused",
            "\t... 3 more",
        ]
    if kind == 3:
        return ["Error: connect ECONNREFUSED 10.0.0.3:5432", "    at TCPConnectWrap.afterConnect (node:net:1:2)", "}"]
    if kind == 4:
        if rng.random() < 0.5:
            return ["panic: boom", "Done", "main.run", "exit status 2"]  # bare tokens a Go panic takes
        return ["panic: runtime error", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:12 +0x1d"]
    return ["NoMethodError: undefined method", "  /app/x.rb:3:in `f'"]


def _ts(base: datetime, seconds: float, fmt: int) -> str:
    t = base + timedelta(seconds=seconds)
    if fmt == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if fmt == 1:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def entries(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    base = datetime(2025, 9, 5, 10, 0, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    clock = 0.0
    while len(out) < n:
        service, revision = rng.choice(_REVS)
        instance = rng.choice(_INSTANCES)
        stream = rng.choice(("stdout", "stdout", "stderr", "other"))  # other: a log the app names itself
        roll = rng.random()
        if roll < 0.25:
            block = _trace(rng)
        elif roll < 0.45:
            block = [rng.choice(_BENIGN), *rng.sample(_INDENTED, rng.randint(1, 2))]
        elif roll < 0.55:
            block = [rng.choice(_EXC)]  # an exception-shaped line alone
        else:
            block = [rng.choice(_BENIGN)]
        for line in block:
            step = rng.choice((0.0, 0.0, 0.001, 0.5, MAX_GAP_S, MAX_GAP_S + 0.001, -0.002, 1.0))
            clock = max(0.0, clock + step)
            out.append(
                _entry(rng, len(out), service, revision, instance, stream, line, _ts(base, clock, rng.randrange(3)))
            )
        if rng.random() < 0.2:
            out.append(_request(rng, len(out), service, revision, instance, _ts(base, clock, 0)))
        if rng.random() < 0.05:
            out.append(_system(len(out), service, revision, instance, _ts(base, clock, 0)))
    return out[:n]


def _resource(service: str, revision: str) -> dict[str, Any]:
    if service == "worker" and revision.startswith("worker"):
        return {"type": "cloud_run_revision", "labels": {"service_name": service, "revision_name": revision}}
    return {
        "type": "cloud_run_revision",
        "labels": {"service_name": service, "revision_name": revision, "location": "eu"},
    }


def _base(insert_id: str, ts: str, log: str, service: str, revision: str, instance: str) -> dict[str, Any]:
    return {
        "insertId": insert_id,
        "timestamp": ts,
        "logName": log,
        "resource": _resource(service, revision),
        "labels": {"instanceId": instance},
    }


def _entry(rng: random.Random, i: int, service: str, revision: str, instance: str, stream: str, line: str, ts: str):
    log = "projects/p/logs/app-events" if stream == "other" else f"projects/p/logs/run.googleapis.com%2F{stream}"
    e = _base(f"h{i:07d}", ts, log, service, revision, instance)
    shape = rng.random()
    if shape < 0.15:
        e["jsonPayload"] = {"message": line, "logger": "app"}
    elif shape < 0.2:
        e["jsonPayload"] = {"message": line + "\n  with a second line", "severity": "INFO"}
    else:
        e["textPayload"] = line
    if rng.random() < 0.1:
        e["severity"] = rng.choice(("ERROR", "WARNING", "INFO", "error", 500, "CRITICAL"))
    return e


def _request(rng: random.Random, i: int, service: str, revision: str, instance: str, ts: str) -> dict[str, Any]:
    status = rng.choice((200, 200, 404, 429, 500, 503, "0200"))
    e = _base(f"r{i:07d}", ts, "projects/p/logs/run.googleapis.com%2Frequests", service, revision, instance)
    e["httpRequest"] = {"requestMethod": "GET", "status": status, "requestUrl": f"https://{service}.run.app/x"}
    return e


def _system(i: int, service: str, revision: str, instance: str, ts: str) -> dict[str, Any]:
    e = _base(f"s{i:07d}", ts, "projects/p/logs/run.googleapis.com%2Fvarlog%2Fsystem", service, revision, instance)
    e["textPayload"] = "Starting new instance. Reason: AUTOSCALING"
    return e


def export_bytes(n: int, seed: int) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in entries(n, seed))
