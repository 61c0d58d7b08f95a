"""Error facts: what a failure says, normalised across runtimes, for rules to condition on.

A refused database connection reads differently in every runtime (psycopg2's `connection to server at
"h", port 5432 failed: Connection refused`, Node's `connect ECONNREFUSED h:5432`, Go's `dial tcp h:5432:
connect: connection refused`, Java's `Connection to h:5432 refused`, PHP's `SQLSTATE[HY000] [2002]
Connection refused`), but it is the same few facts: the outcome, where it tried to connect, and which
component that was. Extraction turns an event's text into those facts once; a rule then says
`facts: {outcome: refused, component: postgres}` and holds in every runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import regex as re

# What a client was trying to reach, by its well-known port.
PORT_COMPONENTS = {
    "5432": "postgres", "6432": "postgres", "3306": "mysql", "6379": "redis", "6380": "redis",
    "27017": "mongodb", "5672": "amqp", "9200": "elasticsearch", "11211": "memcached",
}  # fmt: skip
# ... by the Unix socket it names.
_SOCKET_COMPONENTS = ((".s.PGSQL.", "postgres"), ("mysql", "mysql"), ("redis", "redis"))
# ... by the driver or server it names (checked last: a port or socket is more specific).
_DRIVER_COMPONENTS = (
    ("postgres", re.compile(r"(?i)postgres|psycopg|asyncpg|\bPG::|\bpq: |pgx|PSQLException|npgsql|libpq")),
    ("mysql", re.compile(r"(?i)mysql|mariadb|Communications link failure|SQLSTATE\[HY000\] \[20\d\d\]")),
    ("redis", re.compile(r"(?i)redis|jedis|lettuce")),
    ("mongodb", re.compile(r"(?i)mongo")),
    ("amqp", re.compile(r"(?i)amqp|rabbitmq")),
)
_HOST = r"(?P<host>\[[0-9a-fA-F:.]+\]|[\w.-]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)"

# Each pattern names the outcome and captures what it can of host, port and socket. Every pattern of an
# outcome contains one of its TRIGGERS (lower-cased), which is what the prefilter looks for.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (outcome, re.compile(p))
    for outcome, p in (
        # Go: dial tcp 10.0.0.3:5432: connect: connection refused (connectex on Windows)
        (
            "refused",
            rf"dial tcp {_HOST}:(?P<port>\d+): (?:connect|connectex|getsockopt)[^\n]*?(?:connection refused|actively refused)",
        ),
        ("refused", r"dial unix (?P<socket>/\S+?): connect: connection refused"),
        # Node: connect ECONNREFUSED 127.0.0.1:5432
        ("refused", rf"ECONNREFUSED {_HOST}:(?P<port>\d+)"),
        # Python asyncio / asyncpg: [Errno 111] Connect call failed ('10.0.0.3', 5432)
        ("refused", r"\[Errno 111\] Connect call failed \('(?P<host>[^']+)', (?P<port>\d+)"),
        # redis-py: Error 111 connecting to localhost:6379. Connection refused.
        ("refused", rf"Error 111 connecting to {_HOST}:(?P<port>\d+)"),
        # libpq >= 12: connection to server at "h" (ip), port 5432 failed: Connection refused
        (
            "refused",
            r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed: Connection refused',
        ),
        ("refused", r'connection to server on socket "(?P<socket>[^"]+)" failed: Connection refused'),
        # older libpq: could not connect to server: Connection refused ... host "h" ... port 5432?
        (
            "refused",
            r'(?s)could not connect to server: Connection refused.{0,200}?(?:host "(?P<host>[^"]+)".{0,80}?)?port (?P<port>\d+)',
        ),
        # Java JDBC (PostgreSQL): Connection to localhost:5432 refused
        ("refused", rf"Connection to {_HOST}:(?P<port>\d+) refused"),
        # Ruby: Connection refused - connect(2) for "h" port 6379 / for 127.0.0.1:3306
        ("refused", rf'Connection refused - connect\(2\) for "?{_HOST}"?(?: port |:)(?P<port>\d+)'),
        # Redis clients: Error connecting to Redis on 127.0.0.1:6379 (Errno::ECONNREFUSED)
        ("refused", rf"Error connecting to Redis on {_HOST}:(?P<port>\d+) \((?:Errno::)?ECONNREFUSED\)"),
        # PHP PDO / mysqli: SQLSTATE[HY000] [2002] Connection refused
        ("refused", r"\[2002\] Connection refused"),
        # Anything else that only says it: Errno::ECONNREFUSED, java.net.ConnectException: Connection refused
        # (not Node's `code: 'ECONNREFUSED'` property lines, which repeat the error printed above them)
        (
            "refused",
            r"(?i)(?<!code: ')(?<!errno: ')\bECONNREFUSED\b|\bconnection refused\b|actively refused it|\[Errno 111\]|Error 111 ",
        ),
    )
)
TRIGGERS = {"refused": ("refused", "errno 111", "error 111")}
OUTCOMES = tuple(TRIGGERS)
FACT_KEYS = ("outcome", "host", "port", "socket", "component")


@dataclass(frozen=True, slots=True)
class Facts:
    outcome: str = ""  # refused (more outcomes come with their patterns)
    host: str = ""
    port: str = ""
    socket: str = ""
    component: str = ""  # postgres, mysql, redis, mongodb, amqp, elasticsearch, memcached, or ""

    def as_captures(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


NONE = Facts()
# Facts are read near the failure: a message is cut at this many characters so a huge dump stays cheap.
MAX_TEXT = 20_000


def component_of(text: str, port: str, socket: str) -> str:
    if port in PORT_COMPONENTS:
        return PORT_COMPONENTS[port]
    for marker, component in _SOCKET_COMPONENTS:
        if socket and marker in socket:
            return component
    if socket.startswith("/cloudsql/"):
        return "postgres" if ".s.PGSQL." in socket else "mysql"
    for component, pattern in _DRIVER_COMPONENTS:
        if pattern.search(text):
            return component
    return ""


def extract(text: str) -> Facts:
    """The facts of the first connection failure the text describes, or NONE."""
    text = text[:MAX_TEXT]
    lowered = text.lower()
    for outcome, pattern in _PATTERNS:
        if not any(t in lowered for t in TRIGGERS[outcome]):
            continue
        m = pattern.search(text)
        if m is None:
            continue
        groups = m.groupdict()
        host = (groups.get("host") or "").strip("[]")
        port = groups.get("port") or ""
        socket = groups.get("socket") or ""
        return Facts(outcome, host, port, socket, component_of(text, port, socket))
    return NONE
