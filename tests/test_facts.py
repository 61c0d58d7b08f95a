"""Error facts: the same refused connection read from every runtime's wording."""

from __future__ import annotations

import pytest

from triage.engine.catalog import load_catalog
from triage.engine.facts import extract
from triage.errors import RuleError

REFUSED = [
    ("ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)", "10.0.0.3", "5432", "postgres"),
    ("Error: connect ECONNREFUSED 127.0.0.1:6379", "127.0.0.1", "6379", "redis"),
    ("dial tcp 10.0.0.3:3306: connect: connection refused", "10.0.0.3", "3306", "mysql"),
    ("dial tcp [::1]:5432: connectex: No connection could be made because the target machine actively refused it.",
     "::1", "5432", "postgres"),
    ("org.postgresql.util.PSQLException: Connection to localhost:5432 refused.", "localhost", "5432", "postgres"),
    ('Errno::ECONNREFUSED: Connection refused - connect(2) for "redis" port 6379', "redis", "6379", "redis"),
    ("SQLSTATE[HY000] [2002] Connection refused", "", "", "mysql"),
    ("PG::ConnectionBad: could not connect to server: Connection refused", "", "", "postgres"),
    ("java.net.ConnectException: Connection refused", "", "", ""),
    ("MongoServerSelectionError: connect ECONNREFUSED 127.0.0.1:27017", "127.0.0.1", "27017", "mongodb"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "host", "port", "component"), REFUSED)
def test_refused_in_every_runtime(text: str, host: str, port: str, component: str) -> None:
    facts = extract(text)
    assert (facts.outcome, facts.host, facts.port, facts.component) == ("refused", host, port, component)


@pytest.mark.parametrize(
    "text",
    ["INFO: connected to PostgreSQL at 10.0.0.3:5432", "Reconnected to redis after 2 attempts", "GET /health 200"],
)
def test_no_failure_no_facts(text: str) -> None:
    assert extract(text).outcome == ""


def test_unix_socket_names_the_component() -> None:
    facts = extract("dial unix /cloudsql/p:us-central1:db/.s.PGSQL.5432: connect: connection refused")
    assert (facts.socket, facts.component) == ("/cloudsql/p:us-central1:db/.s.PGSQL.5432", "postgres")


RULE = """rules:
  - id: bad-facts
    title: t
    severity: high
    category: dependency
    problem: p
    root_cause: r
    fix: f
    match:
      any:
        - facts: {outcome: melted}
"""


def test_unknown_outcome_is_located(tmp_path) -> None:
    (tmp_path / "x.yaml").write_text(RULE)
    with pytest.raises(RuleError) as info:
        load_catalog([tmp_path])
    assert str(info.value).startswith(
        f'{tmp_path / "x.yaml"}:11: rule "bad-facts": match.any[0].facts.outcome: unknown'
    )


OTHER_OUTCOMES = [
    ('dial tcp: lookup db on 169.254.169.254:53: no such host', "dns", "db", ""),
    ("Error: getaddrinfo ENOTFOUND redis-master", "dns", "redis-master", ""),
    ("java.net.UnknownHostException: mysql-primary: Name or service not known", "dns", "mysql-primary", ""),
    ("SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for db failed", "dns", "db", ""),
    ('Get "https://api.example.com/v1": x509: certificate signed by unknown authority', "tls", "api.example.com", ""),
    ("javax.net.ssl.SSLHandshakeException: PKIX path building failed", "tls", "", ""),
    ("Error: unable to verify the first certificate", "tls", "", ""),
    ("dial tcp 10.0.0.3:5432: i/o timeout", "timeout", "10.0.0.3", "5432"),
    ("Error: connect ETIMEDOUT 10.1.2.3:6379", "timeout", "10.1.2.3", "6379"),
    ("Error: P1001: Can't reach database server at `db.internal`:`5432`", "refused", "db.internal", "5432"),
    ('FATAL:  password authentication failed for user "app"', "auth", "", ""),
    ("SQLSTATE[HY000] [1045] Access denied for user 'root'@'172.18.0.3' (using password: YES)", "auth", "", ""),
    ("ReplyError: NOAUTH Authentication required.", "auth", "", ""),
    ("Error: read ECONNRESET", "reset", "", ""),
    ("psycopg2.OperationalError: server closed the connection unexpectedly", "reset", "", ""),
]  # fmt: skip


@pytest.mark.parametrize(("text", "outcome", "host", "port"), OTHER_OUTCOMES)
def test_dns_tls_timeout_in_every_runtime(text: str, outcome: str, host: str, port: str) -> None:
    facts = extract(text)
    assert (facts.outcome, facts.host, facts.port) == (outcome, host, port)
    assert facts.reason and facts.reason in " ".join(text.split())


def test_a_dns_lookup_that_timed_out_is_dns() -> None:
    facts = extract("dial tcp: lookup db on 10.0.0.2:53: read udp 10.0.0.9:4000->10.0.0.2:53: i/o timeout")
    assert (facts.outcome, facts.host) == ("dns", "db")


@pytest.mark.parametrize(
    "text",
    [
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='a', port=443): Read timed out. (read timeout=30)",
        "INFO: TLS handshake with payments.internal completed (TLSv1.3)",
        "INFO: resolved auth.internal to 10.8.0.12",
    ],
)
def test_read_timeouts_and_healthy_lines_are_no_connection_failure(text: str) -> None:
    assert extract(text).outcome == ""
