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
    # "could not connect to server: " is libpq's own wording (psql and every libpq driver before PostgreSQL 14),
    # "failed to connect to `host=" pgx's;
    # "Can't connect to server on" is MariaDB Connector/C's.
    (
        "postgres",
        re.compile(
            r"(?i)postgres|psycopg|asyncpg|\bPG::|\bpq: |pgx|PSQLException|npgsql|libpq|(?-i:could not connect to server: |failed to connect to `host=)"
        ),
    ),
    (
        "mysql",
        re.compile(
            r"(?i)mysql|mariadb|Communications link failure|SQLSTATE\[HY000\] \[20\d\d\]|Can't connect to (?:local )?server on"
        ),
    ),
    ("redis", re.compile(r"(?i)redis|jedis|lettuce")),
    ("mongodb", re.compile(r"(?i)mongo")),
    ("amqp", re.compile(r"(?i)amqp|rabbitmq")),
)
_HOST = r"(?P<host>\[[0-9a-fA-F:.]+\]|[\w.-]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)"

# Each pattern names the outcome and captures what it can of host, port and socket. Every pattern of an
# outcome contains one of its TRIGGERS (lower-cased), which is what the prefilter looks for. Outcomes are
# tried in this order, so the more telling one wins where a text says two things (a DNS lookup that timed
# out is `dns`, a TLS failure inside a refused-looking wrapper is `tls`).
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (outcome, re.compile(p))
    for outcome, p in (
        # --- dns: the name did not resolve
        # Go: dial tcp: lookup db on 169.254.169.254:53: no such host (or: server misbehaving, i/o timeout)
        (
            "dns",
            r'lookup "?(?P<host>[\w.-]+)"?(?: on [\[\]0-9a-fA-F:.]+)?: (?:no such host|server misbehaving|[^\n]{0,80}?i/o timeout)',
        ),
        # Node: getaddrinfo ENOTFOUND db / EAI_AGAIN db
        ("dns", r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)"),
        # libpq: could not translate host name "db" to address
        ("dns", r'could not translate host name "(?P<host>[^"]+)" to address'),
        # urllib3 2.x: Failed to resolve 'db' ([Errno -2] ...)
        ("dns", r"Failed to resolve '(?P<host>[^']+)'"),
        # redis-py: Error -2 connecting to redis:6379. Name or service not known.
        ("dns", rf"Error -[235] connecting to {_HOST}:(?P<port>\d+)"),
        # Java: java.net.UnknownHostException: db (: Name or service not known)
        ("dns", r"UnknownHostException: (?P<host>[\w.-]+)"),
        # MySQL clients: Unknown MySQL server host 'db' (2005)
        ("dns", r"Unknown MySQL server host '(?P<host>[^']+)'"),
        # curl / PHP: Could not resolve host: db
        ("dns", r"Could not resolve host: (?P<host>[\w.-]+)"),
        # PHP: php_network_getaddresses: getaddrinfo for db failed / getaddrinfo failed
        ("dns", r"php_network_getaddresses: getaddrinfo (?:for (?P<host>[\w.-]+) )?failed"),
        # Ruby, Python and anything else: getaddrinfo: Name or service not known, [Errno -3] Temporary failure
        (
            "dns",
            r"(?i)\bname or service not known\b|temporary failure in name resolution|"
            r"nodename nor servname provided|no address associated with hostname|\bEAI_AGAIN\b|\bENOTFOUND\b",
        ),
        # --- tls: the certificate did not verify
        (
            "tls",
            r"(?i)x509: certificate (?:signed by unknown authority|has expired|is not valid|is valid for|relies on legacy)|"
            r"tls: failed to verify certificate|certificate verify failed|pkix path building failed|"
            r"unable to find valid certification path|unable to verify the first certificate|"
            r"unable to get local issuer certificate|self[- ]signed certificate in certificate chain|"
            r"\b(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|"
            r"CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)\b|does not match certificate's altnames|"
            r"SSL certificate problem|No subject alternative (?:DNS )?names? matching|CertificateExpiredException|"
            r'server certificate for "[^"]+" does not match host name "(?P<host>[^"]+)"',
        ),
        # --- auth: the server refused the credentials
        # PostgreSQL (libpq, pgx, JDBC, node-postgres): password authentication failed for user "app"
        ("auth", r'password authentication failed for user "?(?P<user>[^"\s]+)"?'),
        # MySQL / MariaDB 1045: Access denied for user 'app'@'10.0.0.9'
        ("auth", r"Access denied for user '(?P<user>[^'\n]*)'@'[^'\n]*'"),
        # Redis: NOAUTH Authentication required / WRONGPASS invalid username-password pair
        ("auth", r"\b(?:NOAUTH Authentication required|WRONGPASS invalid username-password pair)"),
        # MongoDB: MongoServerError: Authentication failed. / Command failed with error 18 (AuthenticationFailed)
        ("auth", r"Mongo\w*(?:Error|Exception)[^\n]*?Authentication failed|\(AuthenticationFailed\)"),
        # --- refused: nothing listens there
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
        # Prisma: P1001: Can't reach database server at `localhost`:`5432` (refused or unreachable)
        ("refused", r"Can't reach database server at `?(?P<host>[^`:\s]+)`?:`?(?P<port>\d+)"),
        # PHP PDO / mysqli: SQLSTATE[HY000] [2002] Connection refused
        ("refused", r"\[2002\] Connection refused"),
        # Anything else that only says it: Errno::ECONNREFUSED, java.net.ConnectException: Connection refused
        # (not Node's `code: 'ECONNREFUSED'` property lines, which repeat the error printed above them)
        (
            "refused",
            r"(?i)(?<!code: ')(?<!errno: ')\bECONNREFUSED\b|\bconnection refused\b|actively refused it|\[Errno 111\]|Error 111 ",
        ),
        # --- timeout: the connection attempt got no answer (not a read or request timeout)
        ("timeout", rf"dial tcp {_HOST}:(?P<port>\d+): (?:i/o timeout|connect: connection timed out)"),
        ("timeout", rf"connect ETIMEDOUT {_HOST}:(?P<port>\d+)"),
        ("timeout", rf"Connection to {_HOST}:(?P<port>\d+) timed out"),
        (
            "timeout",
            r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed: '
            r"(?:Connection timed out|timeout expired|Operation timed out)",
        ),
        ("timeout", rf"Error 110 connecting to {_HOST}:(?P<port>\d+)"),
        ("timeout", r"\[Errno 110\] Connect call failed \('(?P<host>[^']+)', (?P<port>\d+)"),
        (
            "timeout",
            r"(?i)\bconnect ETIMEDOUT\b|\bErrno::ETIMEDOUT\b|\[Errno 110\]|\bconnection timed out\b|"
            r"\bconnect timed out\b|ConnectTimeout|Net::OpenTimeout|\[2002\] (?:Connection|Operation) timed out",
        ),
        # --- reset: the connection was open and the other side dropped it
        (
            "reset",
            r"(?i)\bECONNRESET\b|connection reset by peer|\[Errno 104\]|"
            r"server closed the connection unexpectedly|Connection reset(?: by peer)?",
        ),
    )
)
TRIGGERS = {
    "dns": (
        "lookup", "getaddrinfo", "could not translate host name", "failed to resolve", "error -", "unknownhost",
        "unknown mysql server host", "could not resolve host", "name or service not known",
        "temporary failure in name resolution", "nodename nor servname", "no address associated", "eai_again",
        "enotfound",
    ),
    "tls": (
        "x509: certificate", "tls: failed to verify", "certificate verify failed", "pkix path",
        "valid certification path", "verify the first certificate", "local issuer certificate",
        "signed certificate in certificate chain", "unable_to_verify", "self_signed_cert", "cert_has_expired",
        "err_tls_cert", "certificate's altnames", "ssl certificate problem", "subject alternative",
        "certificateexpired", "does not match host name",
    ),
    "auth": ("password authentication failed", "access denied for user", "noauth", "wrongpass", "authentication"),
    "refused": ("refused", "errno 111", "error 111", "can't reach database server"),
    "timeout": (
        "etimedout", "timed out", "timeout expired", "i/o timeout", "error 110", "errno 110", "connecttimeout",
        "opentimeout",
    ),
    "reset": ("econnreset", "connection reset", "errno 104", "server closed the connection unexpectedly"),
}  # fmt: skip
OUTCOMES = tuple(TRIGGERS)
FACT_KEYS = ("outcome", "host", "port", "socket", "component", "reason")


@dataclass(frozen=True, slots=True)
class Facts:
    outcome: str = ""  # dns, tls, auth, refused, timeout, reset
    host: str = ""
    port: str = ""
    socket: str = ""
    component: str = ""  # postgres, mysql, redis, mongodb, amqp, elasticsearch, memcached, or ""
    reason: str = ""  # the words that said it, as written (`x509: certificate signed by unknown authority`)

    def as_captures(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


NONE = Facts()
_URL = re.compile(r"\b(?:https?|wss?)://(?:[^@/\s\"']+@)?(?P<host>[\w.-]+)(?::(?P<port>\d+))?")
# Facts are read near the failure: a message is cut at this many characters so a huge dump stays cheap.
MAX_TEXT = 20_000
MAX_REASON = 200


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
        if not host and (url := _URL.search(text)):
            # Go and Java name the request, not the socket: Get "https://h:8443/x": x509: ...
            host, port = url["host"], port or url["port"] or ""
        socket = groups.get("socket") or ""
        reason = " ".join(m.group(0).split())[:MAX_REASON]
        return Facts(outcome, host, port, socket, component_of(text, port, socket), reason)
    return NONE
