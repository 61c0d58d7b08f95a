# ruff: noqa: SIM905 - word lists read better as one string
"""Generate a realistic Cloud Run export (JSON lines), deterministic by seed.

Usage: python benchmarks/generate.py N OUT [--seed S] [--gzip]

What it contains, and why (each is something the fast path must get exactly right):
- several services, each with revisions deployed over the day (audit deploys, Ready True/False changes on
  the system_event log, instance starts and startup probes on the system log);
- request logs (httpRequest, mostly 200s, a few 429/5xx with platform text), plain-text and JSON
  (jsonPayload) application logs, stderr lines without severity;
- about 3% error-related entries: tracebacks written in one entry and tracebacks split one line per entry
  (no severity, interleaved with other instances), chained exceptions, connection errors, probe failures,
  non-zero exits, ERROR lines no rule knows (for clustering);
- JSON-escaped quotes, backslashes, newlines and non-ASCII text; equal timestamps; entries slightly out
  of order (never further than the reorder window); resource label key order that varies;
- about 780 bytes a line, like real exports (long instance ids, trace ids, receive timestamps).
"""

from __future__ import annotations

import argparse
import gzip
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

PROJECT = "netra-staging"
REGION = "us-central1"
START = datetime(2025, 9, 5, 6, 0, 0, tzinfo=UTC)
SPAN_S = 12 * 3600
# service -> per-revision failure mode (None = healthy); revisions are deployed evenly over the span.
SERVICES: dict[str, list[str | None]] = {
    "netra-auth-service": ["redis-import", "missing-env", None],
    "netra-backend-staging": [None, "postgres", "postgres"],
    "netra-frontend-staging": [None, None],
    "netra-worker": ["redis-runtime", None, None, None],
}
ERROR_SHARE = 0.012
_WORDS = (
    "user session cache token order invoice report payment account request worker queue batch sync "
    "profile settings export import schedule tenant message channel upload download retry"
).split()
_UNICODE = ("Jürgen", "Zoë", "東京", "naïve café", "Ελληνικά", "emoji ✓ ✗ →", "Łódź", "señor")
_PATHS = ("/api/v1/users", "/api/v1/orders", "/health", "/api/v1/reports/daily", "/static/app.js", "/login")


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _ts(t: float) -> str:
    return (START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Export:
    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.revisions: dict[str, list[tuple[str, float, str | None]]] = {}
        for si, (svc, modes) in enumerate(SERVICES.items()):
            revs = []
            for i, mode in enumerate(modes):
                at = SPAN_S * i / len(modes) + 60 * si
                revs.append((f"{svc}-{i + 1:05d}-{_hex(self.rng, 3)}", at, mode))
            self.revisions[svc] = revs
        self.instances: dict[str, list[str]] = {}
        self.hosts = {svc: f"https://{svc}-{_hex(self.rng, 10)}-uc.a.run.app" for svc in SERVICES}

    # -- common envelope ----------------------------------------------------------------------------
    def _base(self, t: float, svc: str, rev: str, log: str, severity: str | None) -> dict[str, Any]:
        rng = self.rng
        labels = {
            "configuration_name": svc,
            "location": REGION,
            "project_id": PROJECT,
            "revision_name": rev,
            "service_name": svc,
        }
        if rng.random() < 0.2:  # exports do not keep one key order
            labels = dict(reversed(list(labels.items())))
        entry: dict[str, Any] = {
            "insertId": _hex(rng, 24),
            "labels": {"instanceId": self._instance(rev)},
            "logName": f"projects/{PROJECT}/logs/{log}",
            "receiveTimestamp": _ts(t + 0.05)[:-1] + "123Z",
            "resource": {"labels": labels, "type": "cloud_run_revision"},
        }
        if severity:
            entry["severity"] = severity
        entry["timestamp"] = _ts(t)
        return entry

    def _instance(self, rev: str) -> str:
        pool = self.instances.setdefault(rev, [])
        if len(pool) < 4 or self.rng.random() < 0.001:
            pool.append("00f46b9285" + _hex(self.rng, 54))
        return self.rng.choice(pool)

    def _revision(self, svc: str, t: float) -> tuple[str, str | None]:
        current = self.revisions[svc][0]
        for rev in self.revisions[svc]:
            if rev[1] <= t:
                current = rev
        return current[0], current[2]

    # -- benign entries -----------------------------------------------------------------------------
    def request(self, t: float, svc: str, rev: str, status: int = 200, text: str | None = None) -> dict:
        rng = self.rng
        sev = "INFO" if status < 400 else ("WARNING" if status < 500 else "ERROR")
        e = self._base(t, svc, rev, "run.googleapis.com%2Frequests", sev)
        path = rng.choice(_PATHS)
        e["httpRequest"] = {
            "latency": f"{rng.random() * 0.4:.9f}s",
            "protocol": "HTTP/1.1",
            "remoteIp": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "requestMethod": rng.choice(("GET", "GET", "POST")),
            "requestSize": str(rng.randrange(200, 2000)),
            "requestUrl": f"{self.hosts[svc]}{path}?page={rng.randrange(50)}",
            "responseSize": str(rng.randrange(100, 90000)),
            "status": status,
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        }
        e["spanId"] = _hex(rng, 16)
        e["trace"] = f"projects/{PROJECT}/traces/{_hex(rng, 32)}"
        if text:
            e["textPayload"] = text
        return e

    def app_text(self, t: float, svc: str, rev: str) -> dict:
        rng = self.rng
        kind = rng.random()
        if kind < 0.45:  # uvicorn access line: quotes to escape, and exception-shaped ("INFO: ...")
            msg = f'INFO:     169.254.1.1:{rng.randrange(60000)} - "GET {rng.choice(_PATHS)} HTTP/1.1" 200 OK'
            return {**self._base(t, svc, rev, "run.googleapis.com%2Fstdout", None), "textPayload": msg}
        if kind < 0.7:
            w = rng.sample(_WORDS, 3)
            msg = f"[{_ts(t)[11:19]}] processed {w[0]} {w[1]} for {w[2]} id={rng.randrange(10**6)} in {rng.randrange(900)}ms"
            return {**self._base(t, svc, rev, "run.googleapis.com%2Fstdout", "INFO"), "textPayload": msg}
        if kind < 0.8:  # a multi-line benign message (escaped newlines) with non-ASCII text
            msg = f"Config loaded for tenant {rng.choice(_UNICODE)}:\n  region={REGION}\n  path=C:\\data\\{rng.choice(_WORDS)}"
            return {**self._base(t, svc, rev, "run.googleapis.com%2Fstdout", "INFO"), "textPayload": msg}
        if kind < 0.92:  # stderr without severity (DEFAULT): warnings libraries print
            msg = f"/usr/local/lib/python3.11/site-packages/urllib3/connectionpool.py:1100: InsecureRequestWarning: Unverified HTTPS request to host '{rng.choice(_WORDS)}.internal'"
            return {**self._base(t, svc, rev, "run.googleapis.com%2Fstderr", None), "textPayload": msg}
        msg = f"  retrying {rng.choice(_WORDS)} in {rng.randrange(5)}s (attempt {rng.randrange(1, 4)})"  # indented
        return {**self._base(t, svc, rev, "run.googleapis.com%2Fstdout", "DEBUG"), "textPayload": msg}

    def app_json(self, t: float, svc: str, rev: str) -> dict:
        rng = self.rng
        w = rng.sample(_WORDS, 2)
        sev = rng.choice(("INFO", "INFO", "INFO", "DEBUG", "WARNING"))
        e = self._base(t, svc, rev, "run.googleapis.com%2Fstdout", sev)
        e["jsonPayload"] = {
            "message": f'{w[0]} "{w[1]}" updated by {rng.choice(_UNICODE)}',
            "logger": f"app.{w[0]}",
            "request_id": _hex(rng, 12),
            "duration_ms": rng.randrange(1, 900),
            "user": {"id": rng.randrange(10**5), "plan": rng.choice(("free", "pro"))},
        }
        e["trace"] = f"projects/{PROJECT}/traces/{_hex(rng, 32)}"
        return e

    # -- error-related entries ----------------------------------------------------------------------
    def failure(self, t: float, svc: str, rev: str, mode: str | None) -> list[dict]:
        rng = self.rng
        r = rng.random()
        if mode in ("redis-import", "redis-runtime", "postgres", "missing-env") and r < 0.5:
            return self._traceback(t, svc, rev, mode, split=rng.random() < 0.5)
        if mode in ("redis-import", "missing-env", "postgres") and r < 0.75:
            sys_log = "run.googleapis.com%2Fvarlog%2Fsystem"
            probe = (
                f'Default STARTUP TCP probe failed 1 time consecutively for container "{svc}-1" on port 8080. '
                "The instance was not started."
            )
            return [
                {
                    **self._base(t, svc, rev, sys_log, "INFO"),
                    "textPayload": "Starting new instance. Reason: DEPLOYMENT_ROLLOUT - Instance started due to traffic shifting between revisions or configuration changes.",
                },
                {**self._base(t + 1.5, svc, rev, sys_log, "ERROR"), "textPayload": probe},
                {**self._base(t + 1.6, svc, rev, sys_log, "WARNING"), "textPayload": "Container called exit(1)."},
            ]
        if r < 0.85:
            return [
                self.request(
                    t,
                    svc,
                    rev,
                    rng.choice((500, 503, 429)),
                    "The request failed because either the HTTP response was malformed or connection to the instance had an error.",
                )
            ]
        # An error nobody has a rule for: goes to clustering.
        e = self._base(t, svc, rev, "run.googleapis.com%2Fstdout", "ERROR")
        e["jsonPayload"] = {
            "message": f'Failed to sync {rng.choice(_WORDS)} batch {rng.randrange(999)}: upstream returned "busy" (état: indisponible)',
            "logger": "app.sync",
        }
        return [e]

    def _traceback(self, t: float, svc: str, rev: str, mode: str, split: bool) -> list[dict]:
        rng = self.rng
        if mode == "redis-import":
            lines = [
                "Traceback (most recent call last):",
                '  File "/app/auth_service/main.py", line 12, in <module>',
                "    from auth_service.redis_manager import redis_manager",
                '  File "/app/auth_service/redis_manager.py", line 366, in <module>',
                "    auth_redis_manager = AuthRedisManager()",
                '  File "/usr/local/lib/python3.11/site-packages/redis/connection.py", line 707, in connect',
                "    raise ConnectionError(self._error_message(e))",
                "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused.",
            ]
        elif mode == "redis-runtime":
            lines = [
                "Traceback (most recent call last):",
                '  File "/app/worker/jobs.py", line 88, in run',
                "    cache.set(key, value)",
                "ConnectionRefusedError: [Errno 111] Connection refused",
                "",
                "During handling of the above exception, another exception occurred:",
                "",
                "Traceback (most recent call last):",
                '  File "/usr/local/lib/python3.11/site-packages/redis/connection.py", line 707, in connect',
                "    raise ConnectionError(self._error_message(e))",
                "redis.exceptions.ConnectionError: Error 111 connecting to 10.0.0.12:6379. Connection refused.",
            ]
        elif mode == "postgres":
            lines = [
                "Traceback (most recent call last):",
                '  File "/app/backend/db.py", line 31, in connect',
                "    engine.connect()",
                '  File "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py", line 122, in connect',
                "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
                'psycopg2.OperationalError: connection to server at "10.20.0.5", port 5432 failed: Connection refused',
            ]
        else:
            lines = [
                "Traceback (most recent call last):",
                '  File "/app/auth_service/settings.py", line 9, in <module>',
                '    DATABASE_URL = os.environ["DATABASE_URL"]',
                '  File "<frozen os>", line 679, in __getitem__',
                "KeyError: 'DATABASE_URL'",
            ]
        inst = self._instance(rev)
        if not split:
            e = self._base(t, svc, rev, "run.googleapis.com%2Fstderr", rng.choice((None, "ERROR")))
            e["labels"]["instanceId"] = inst
            e["textPayload"] = "\n".join(lines)
            return [e]
        out = []
        for i, line in enumerate(lines):  # one entry per line, no severity, microseconds apart
            e = self._base(t + i * 0.000_05, svc, rev, "run.googleapis.com%2Fstderr", None)
            e["labels"]["instanceId"] = inst
            e["textPayload"] = ("ERROR:    " + line) if i == 0 and rng.random() < 0.5 else line
            out.append(e)
        return out

    # -- platform entries ---------------------------------------------------------------------------
    def deploys(self) -> list[tuple[float, dict]]:
        out = []
        for svc, revs in self.revisions.items():
            for rev, at, mode in revs:
                d = self._audit(
                    at,
                    svc,
                    rev,
                    "activity",
                    "google.cloud.run.v1.Services.ReplaceService",
                    f"namespaces/{PROJECT}/services/{svc}",
                )
                d["protoPayload"]["request"] = {
                    "service": {
                        "metadata": {"name": svc},
                        "spec": {
                            "template": {
                                "metadata": {"name": rev},
                                "spec": {
                                    "containers": [
                                        {
                                            "env": [
                                                {"name": "REDIS_URL", "value": "redis://10.0.0.12:6379"},
                                                {
                                                    "name": "JWT_SECRET",
                                                    "valueFrom": {
                                                        "secretKeyRef": {"name": "jwt-secret", "key": "latest"}
                                                    },
                                                },
                                            ]
                                        }
                                    ]
                                },
                            }
                        },
                    }
                }
                d["labels"] = {"commit-sha": _hex(self.rng, 40), "managed-by": "gcp-cloud-build-deploy-cloud-run"}
                out.append((at, d))
                ok = mode is None or mode in ("redis-runtime",)
                msg = f"Ready condition status changed to {'True' if ok else 'False'} for Revision {rev}"
                if not ok:
                    msg += (
                        " with message: The user-provided container failed to start and listen on the port defined "
                        "provided by the PORT=8080 environment variable within the allocated timeout."
                    )
                r = self._audit(
                    at + 40,
                    svc,
                    rev,
                    "system_event",
                    "/Services.ReplaceService",
                    f"namespaces/{PROJECT}/revisions/{rev}",
                )
                r["protoPayload"]["status"] = {"code": 0 if ok else 9, "message": msg}
                r["severity"] = "INFO" if ok else "ERROR"
                out.append((at + 40, r))
        return out

    def _audit(self, t: float, svc: str, rev: str, kind: str, method: str, resource_name: str) -> dict:
        e = self._base(t, svc, "", f"cloudaudit.googleapis.com%2F{kind}", "NOTICE")
        del e["labels"]
        e["protoPayload"] = {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": method,
            "resourceName": resource_name,
            "serviceName": "run.googleapis.com",
            "authenticationInfo": {"principalEmail": "deployer@netra-staging.iam.gserviceaccount.com"},
        }
        return e

    # -- the stream ---------------------------------------------------------------------------------
    def entries(self) -> Iterator[dict]:
        rng = self.rng
        step = SPAN_S / self.n
        platform = sorted(self.deploys(), key=lambda x: x[0])
        services = list(SERVICES)
        t = 0.0
        made = 0
        block: list[tuple[float, int, dict]] = []
        seq = 0
        while made < self.n:
            if rng.random() < 0.02:
                pass  # equal timestamp: the next entry shares this one's time
            else:
                t += rng.expovariate(1 / step)
            while platform and platform[0][0] <= t:
                at, e = platform.pop(0)
                block.append((at, seq, e))
                seq += 1
                made += 1
            svc = rng.choice(services)
            rev, mode = self._revision(svc, t)
            r = rng.random()
            if r < ERROR_SHARE * (2.0 if mode else 0.4):
                new = self.failure(t, svc, rev, mode)
            elif r < 0.40:
                new = [self.request(t, svc, rev)]
            elif r < 0.70:
                new = [self.app_json(t, svc, rev)]
            elif r < 0.985:
                new = [self.app_text(t, svc, rev)]
            else:
                sys_log = "run.googleapis.com%2Fvarlog%2Fsystem"
                new = [
                    {
                        **self._base(t, svc, rev, sys_log, "INFO"),
                        "textPayload": f'Default STARTUP TCP probe succeeded after 1 attempt for container "{svc}-1" on port 8080.',
                    }
                ]
            for e in new:
                block.append((t, seq, e))
                seq += 1
            made += len(new)
            if len(block) >= 2000:
                yield from self._flush(block)
                block = []
        yield from self._flush(block)

    def _flush(self, block: list[tuple[float, int, dict]]) -> Iterator[dict]:
        block.sort(key=lambda x: (x[0], x[1]))
        items = [e for _, _, e in block]
        rng = self.rng
        for _ in range(len(items) // 200):  # a few entries out of order, by at most 40 positions
            i = rng.randrange(len(items))
            j = min(len(items) - 1, i + rng.randrange(1, 40))
            items[i], items[j] = items[j], items[i]
        yield from items


def write(n: int, out: Path, seed: int = 7, compress: bool = False) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    with opener(out, "wb") as f:  # type: ignore[operator]
        buf = []
        for e in Export(n, seed).entries():
            buf.append(orjson.dumps(e))
            if len(buf) >= 5000:
                f.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gzip", action="store_true")
    args = ap.parse_args()
    write(args.n, args.out, args.seed, args.gzip)


if __name__ == "__main__":
    main()
