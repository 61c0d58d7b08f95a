"""Pasted text: the prefixes of docker compose, foreman, kubectl, Heroku, gcloud and terminals go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_cases import found_ids
from triage.sources.pasted import strip_prefixes


@pytest.mark.parametrize(
    ("line", "message", "ts", "sev", "instance"),
    [
        ("web-1  | Error: connect ECONNREFUSED 10.0.0.3:5432", "Error: connect ECONNREFUSED 10.0.0.3:5432", "", "", "web-1"),
        ("app_1       |     at TCPConnectWrap.afterConnect", "    at TCPConnectWrap.afterConnect", "", "", "app_1"),
        ("20:50:44 web.1    | Puma starting", "Puma starting", "", "", "web.1"),
        ("[pod/api-7d9f/app] panic: boom", "panic: boom", "", "", "api-7d9f"),
        ("2025-09-05T10:00:00.123456+00:00 app[web.1]: Booting", "Booting", "2025-09-05T10:00:00.123456+00:00", "", "web.1"),
        ("ERROR 2025-09-05T10:00:00.123Z boom", "boom", "2025-09-05T10:00:00.123Z", "ERROR", ""),
        ("2025-09-05 10:00:00,123 [ERROR] boom", "boom", "2025-09-05 10:00:00,123", "ERROR", ""),
        ("\x1b[31mweb-1  | \x1b[0mERROR: boom", "boom", "", "ERROR", "web-1"),
        ("INFO     | app:main:12 - started", "| app:main:12 - started", "", "INFO", ""),
        ("ERROR:root:no prefix here", "ERROR:root:no prefix here", "", "", ""),
        ("plain line | with a bar", "plain line | with a bar", "", "", ""),
    ],
)  # fmt: skip
def test_prefixes_are_stripped_and_kept(line: str, message: str, ts: str, sev: str, instance: str) -> None:
    p = strip_prefixes(line)
    assert (p.message, p.timestamp, p.severity, p.instance) == (message, ts, sev, instance)


def test_compose_trace_is_found_as_pasted(tmp_path: Path) -> None:
    """Two containers' lines interleave; each container's trace is reassembled on its own."""
    text = "\n".join(
        [
            "db-1   | LOG:  database system is ready to accept connections",
            "api-1  | could not connect to server: Connection refused",
            "db-1   | LOG:  autovacuum launcher started",
            """api-1  | \tIs the server running on host "db" (172.18.0.2) and accepting""",
            "api-1  | \tTCP/IP connections on port 5432?",
        ]
    )
    path = tmp_path / "pasted.log"
    path.write_text(text, encoding="utf-8")
    assert found_ids(path) == {"postgres-connection-refused"}


def test_tools_only_keeps_what_the_app_printed() -> None:
    p = strip_prefixes("web-1  | 2025-09-05 10:00:00,123 [ERROR] boom", tools_only=True)
    assert (p.message, p.instance, p.timestamp) == ("2025-09-05 10:00:00,123 [ERROR] boom", "web-1", "")
