"""Secrets never leak: a planted corpus across every payload shape, checked in every output producer."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.output_producers import COUNTS_ONLY, PRODUCERS, cli
from triage.report.redact import MASK, TIMED_OUT, Redactor

PG, MYSQL, REDIS, AMQP = "PgS3cretPass1x", "MyS3cretPass2x", "RedisS3cret3x", "AmqpS3cret4x"
DJANGO, PASSWORD, API_KEY = "dj4ngo-s3cret-key-5x!", "HunterPass6x", "ApiKey7abcdef123"
BEARER = "Zm9vYmFyYmF6LWJlYXJlci10b2tlbi04"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkxlYWsifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_LINES = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "MxDNqlCnqNE3kyhGKYmCMbrr9M0LgWSUGGFgSn9ON0x9KPaRnO9RPgE5MjzVnrPj",
    "qj9+0Ssf0ZEqLTYUpH3OYHT6xPLhwPgjhYvs9UsxtVbkWbnGcB+3Fyp6q5CsT0Pz",
]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_LINES) + "\n-----END PRIVATE KEY-----\n"
AWS_ID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
GOOGLE = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
URL_PASS, FRAGMENT, SVC_KEY = "UrlPass99x", "Fr4gmentPw77", "AKIAIOSFODNN7SVCNAME"
QUERY = {"key": "QKey4f9Zx1", "sig": "QSig8c2Vb3", "X-Goog-Signature": "QGoog5d7Nm2", "session": "QSess3h6Tk9",
         "auth": "QAuth2j8Wp4", "passphrase": "QPhrase7k1Lr"}  # fmt: skip
ENV = {"DB_PASS": "EnvDbPass5x", "pass": "EnvPass6y2", "pw": "EnvPw7z3q", "REDIS_AUTH": "EnvRedis8w4"}
COOKIE, BYTES_PW, ENCODED_PW, BARE_PW = "CookieSess9a1", "BytesPw2b3c", "EncPw4d5e6", "BarePw7f8g9"
PEM_TAIL = "Zx9+Ab3dQ0rT7uVw=="  # the short last line of a key body
CUT = "CutStraddle88x"  # a password the 300-character line cap would split from its "://user:" context
EXTRA = "ACME-INTERNAL-QXZWV"  # not a known shape: only --redact catches it
PLAIN_KEY = "PlainSpecKey5r7t"  # SECRET_KEY set as a literal value in a deploy's container spec

SECRETS = [
    PG, MYSQL, REDIS, AMQP, DJANGO, PASSWORD, API_KEY, BEARER, JWT, *PEM_LINES, AWS_ID, AWS_SECRET,
    GITHUB, SLACK, GOOGLE, URL_PASS, FRAGMENT, SVC_KEY, CUT, EXTRA, *QUERY.values(), *ENV.values(), COOKIE,
    BYTES_PW, ENCODED_PW, BARE_PW, PEM_TAIL, SLACK[-12:], PLAIN_KEY,
]  # fmt: skip

TEAM_RULES = """\
rules:
  - id: leak-catch-all
    title: Planted line
    severity: high
    category: configuration
    match:
      any:
        - regex: "(?P<line>[^\\\\n]*LEAK[^\\\\n]*)"
      none:
        - contains: "-FRAG"  # left to leak-fragment: one event, one issue
    problem: "{service} logged {line}"
    root_cause: "Because {line}"
    fix: "Rotate whatever {line} shows"
    recommendations:
      immediate: ["Check {line}"]
      long_term: ["Audit {line}"]
    verify: ["No more {line}"]
  - id: leak-fragment
    title: Password fragment
    severity: high
    category: configuration
    match:
      any:
        - regex: "LEAK[0-9]*-FRAG amqp://[^:/]*:(?P<pw>[^@]+)@"
    problem: "Rejected credential {pw} for {service}"
    root_cause: "{pw}"
    fix: "Replace {pw}"
"""


def entry(text: str | None = None, *, service: str = "", log: str = "stderr", sec: int = 0, **extra) -> dict:
    service = service or f"svc{sec:02d}"  # one service each: every planted line becomes an issue with evidence
    e = {
        "timestamp": f"2025-09-05T10:00:{sec:02d}.000000Z",
        "logName": f"projects/p/logs/run.googleapis.com%2F{log}",
        "resource": {
            "type": "cloud_run_revision",
            "labels": {"service_name": service, "revision_name": f"{service}-00001-abc"},
        },
        "labels": {"instanceId": "00aa"},
        "severity": "ERROR",
        **extra,
    }
    if text is not None:
        e["textPayload"] = text
    return e


def corpus() -> list[dict]:
    key_file = orjson.dumps(
        {"type": "service_account", "private_key_id": "1a2b3c4d5e", "private_key": PEM, "client_email": "x@p.iam"}
    ).decode()  # literal "\n" escapes, as in a downloaded JSON key file
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/app/db.py", line 10, in connect\n'
        f'    engine = create_engine("postgresql://app:{PG}@10.0.0.3:5432/app")\n'
        f"sqlalchemy.exc.OperationalError: LEAK connection to mysql://root:{MYSQL}@db:3306/x failed"
    )
    entries = [
        entry(f"LEAK DATABASE_URL=postgresql://app:{PG}@10.0.0.3:5432/app", sec=1),
        entry(f"LEAK cache at redis://:{REDIS}@10.0.0.4:6379/0 and amqp://guest:{AMQP}@rabbit:5672/", sec=2),
        entry(f"LEAK SECRET_KEY={DJANGO} password: {PASSWORD}", sec=3),
        entry(f'LEAK settings {{"api_key": "{API_KEY}", "debug": true}}', sec=4),
        entry(f"LEAK GET /v1 Authorization: Bearer {BEARER} jwt={JWT}", sec=5),
        entry(f"LEAK loaded key {key_file}", sec=6),
        entry(f"LEAK key:\n{PEM}", sec=7),
        entry(f"LEAK aws {AWS_ID} aws_secret_access_key = {AWS_SECRET}", sec=8),
        entry(f"LEAK tokens {GITHUB} {SLACK} key={GOOGLE}", sec=9),
        entry(traceback, sec=10),
        entry("LEAK " + "x" * 265 + f" postgresql://app:{CUT}@10.0.0.3/app", sec=11),
        entry(f"LEAK internal id {EXTRA}", sec=12),
        entry(f"LEAK-FRAG amqp://svc:{FRAGMENT}@rabbit/", sec=13),
        entry(
            sec=14,
            jsonPayload={
                "message": "LEAK worker failed",
                "exc_info": f"Traceback (most recent call last):\nValueError: LEAK bad token {GITHUB}",
                "config": {"db": {"password": PASSWORD}},
            },
        ),
        entry(sec=15, jsonPayload={"kind": "no message key", "api_key": API_KEY, "note": "LEAK"}),
        entry(f"LEAK hello from {SVC_KEY}", service=f"billing-{SVC_KEY}", sec=16),
        entry(
            "LEAK GET",
            log="requests",
            sec=17,
            httpRequest={"status": 500, "requestUrl": f"https://admin:{URL_PASS}@api.example.com/health"},
        ),
        {
            "timestamp": "2025-09-05T10:00:18.000000Z",
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "svc18"}},
            "protoPayload": {
                "methodName": "google.cloud.run.v1.Services.ReplaceService",
                "resourceName": "namespaces/p/services/svc18",
                "status": {"message": f"LEAK deploy failed: password={PASSWORD}"},
                "request": {
                    "service": {
                        "spec": {
                            "template": {
                                "metadata": {"name": "svc18-00002-xyz"},
                                "spec": {
                                    "containers": [
                                        {
                                            "env": [
                                                {"name": "DATABASE_URL", "value": f"postgresql://app:{PG}@db/app"},
                                                {"name": "SLACK_TOKEN", "value": SLACK},
                                                {"name": "SECRET_KEY", "value": PLAIN_KEY},
                                            ]
                                        }
                                    ]
                                },
                            }
                        }
                    }
                },
            },
        },
        {
            "timestamp": "2025-09-05T10:00:19.000000Z",
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "svc19"}},
            "protoPayload": {
                "methodName": "/Services.ReplaceService",
                "resourceName": "namespaces/p/revisions/svc19-00001-abc",
                "status": {
                    "message": "Ready condition status changed to False for Revision svc19-00001-abc with message: "
                    f"LEAK container exited: redis://:{REDIS}@10.0.0.4:6379 token {GITHUB}"
                },
            },
        },
        entry("LEAK GET /o?" + "&".join(f"{k}={v}" for k, v in QUERY.items()) + " 403", sec=20),
        entry(f"LEAK Cookie: sessionid={COOKIE}; theme=dark " + " ".join(f"{k}={v}" for k, v in ENV.items()), sec=21),
        entry(f"LEAK settings {{'password': b'{BYTES_PW}'}} body=password%3D{ENCODED_PW}%26x%3D1", sec=22),
        entry(f"LEAK connecting to admin:{BARE_PW}@db.internal:5432 as {AWS_ID} {AWS_SECRET}", sec=23),
        entry("-----BEGIN PRIVATE KEY-----", sec=24, service="svc24"),
        *(entry(line, sec=25 + i, service="svc24") for i, line in enumerate(PEM_LINES)),
        entry(PEM_TAIL, sec=28, service="svc24"),
        entry("-----END PRIVATE KEY-----", sec=29, service="svc24"),
        entry(f"LEAK slack {SLACK} rejected", sec=30),
    ]
    # A marker per entry (LEAK01, LEAK02, ...) proves each planted line reached the report, masked.
    return [orjson.loads(orjson.dumps(e).replace(b"LEAK", f"LEAK{n:02d}".encode())) for n, e in enumerate(entries)]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    tmp = tmp_path_factory.mktemp("planted")
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "leak.yaml").write_text(TEAM_RULES)
    logs = tmp / "logs.jsonl"
    logs.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in corpus()))
    # A malformed line that quotes a secret: file notes must not carry it either.
    broken = tmp / "broken.jsonl"
    broken.write_bytes(orjson.dumps(entry("ok", sec=20)) + b'\n{"textPayload": "password=' + PASSWORD.encode() + b"\n")
    return [str(logs), str(broken)], ["--rules", str(rules), "--redact", r"ACME-INTERNAL-[A-Z]+"]


def leaks(text: str) -> list[str]:
    """Secrets present in ``text``, case-insensitively (a display name capitalises) and by prefix (a cut)."""
    low = text.lower()
    return [s for s in SECRETS if s.lower() in low or s.lower()[:10] in low]


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_no_secret_in_any_output(name, planted, tmp_path: Path):
    paths, extra = planted
    output = PRODUCERS[name](paths, extra, tmp_path)
    if name not in COUNTS_ONLY:
        assert "LEAK" in output, "the corpus must reach the output"
    assert leaks(output) == []


def test_every_planted_line_reaches_the_report_masked(planted, tmp_path: Path):
    # Each line that carries a secret is in the report (so the test above is not vacuous), with masks.
    paths, extra = planted
    text = PRODUCERS["report-json"](paths, extra, tmp_path)
    report = orjson.loads(text)
    evidence = "\n".join(e["text"] for i in report["issues"] for e in i["evidence"])
    for n, e in enumerate(corpus()):
        if "LEAK" in orjson.dumps(e).decode():  # the bare lines of a key logged line by line carry no marker
            assert f"LEAK{n:02d}" in text, n
    assert {"leak-catch-all", "leak-fragment"} <= {i["rule"] for i in report["issues"]}
    assert "postgresql://app:***@10.0.0.3" in evidence and "Authorization: Bearer ***" in evidence
    assert "-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----" in evidence
    assert any(s["name"].startswith("billing-") for s in report["services"])
    # secrets set as plain env values in the deploy spec are named (never their values) for Secret Manager
    plain = {s["env"]: s["services"] for s in report["configuration"]["plain_secrets"]}
    assert set(plain) == {"SECRET_KEY", "SLACK_TOKEN"} and plain["SECRET_KEY"]
    md = PRODUCERS["report-md"](paths, extra, tmp_path)
    assert "SECRET_KEY" in md and "set in plain text in the deploy spec, move it to Secret Manager" in md
    fragment = next(i for i in report["issues"] if i["rule"] == "leak-fragment")
    assert fragment["problem"].startswith(f"Rejected credential {MASK} for ")


def test_redactor_masks_each_shape_and_keeps_context():
    r = Redactor()
    assert r.text(f"postgresql://app:{PG}@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert r.text(f"redis://:{REDIS}@h:6379") == "redis://:***@h:6379"
    assert r.text(f"amqp://u:p@ss{AMQP}@h/") == "amqp://u:***@h/"  # a password containing "@"
    assert r.text(f'{{"api_key": "{API_KEY}"}}') == '{"api_key": "***"}'
    assert r.text(f"SECRET_KEY={DJANGO}") == "SECRET_KEY=***"
    assert r.text(f"password: {PASSWORD}") == "password: ***"
    assert r.text(f"Authorization: Bearer {BEARER}") == "Authorization: Bearer ***"
    assert r.text("password authentication failed for user app") == "password authentication failed for user app"
    assert r.text("token validation failed") == "token validation failed"
    assert (
        r.text("commit 3f2a9c0e1b7d4a6f8e5c2b1a0d9f8e7c6b5a4d3e") == "commit 3f2a9c0e1b7d4a6f8e5c2b1a0d9f8e7c6b5a4d3e"
    )


def test_new_shapes_keep_the_key_name():
    r = Redactor()
    assert r.text("GET /o?key=abc123&sig=Zz9&session=s1") == "GET /o?key=***&sig=***&session=***"
    assert r.text("DB_PASS=x1 pw=y2 REDIS_AUTH=z3") == "DB_PASS=*** pw=*** REDIS_AUTH=***"
    assert r.text("Cookie: sessionid=abc9") == "Cookie: sessionid=***"
    assert r.text("{'password': b'hunter2'}") == "{'password': b'***'}"
    assert r.text("body=password%3Dp%40ss%26next%3D1") == "body=password%3D***%26next%3D1"
    assert r.text("admin:hunter22@db.internal:5432") == "admin:***@db.internal:5432"
    assert r.text(f"{AWS_ID} {AWS_SECRET}") == "*** ***"
    assert r.text("bypass=true oauth_mode=web") == "bypass=true oauth_mode=web"  # not key names


@pytest.mark.parametrize("shape", ["a=", ":", "@", "%3D", "aB3+", "x://", "key_", "a:b@", "eyJ.", "_pass="])
def test_adversarial_lines_are_redacted(shape: str):
    # 100 KB lines of a pattern's own shape: the output only (the benchmark times them).
    line = (shape * (100_000 // len(shape) + 1))[:100_000]
    out = Redactor().text(line + f" password={PASSWORD}")
    assert PASSWORD not in out and (out.endswith("password=***") or out == TIMED_OUT)


def test_timed_out_user_pattern_masks_and_is_switched_off():
    r = Redactor([r"(\w|\w\w)+$"], timeout_s=0.01)
    assert r.text("a" * 40 + "!") == TIMED_OUT  # never left unredacted
    assert r.notes and "switched off" in r.notes[0]
    assert r.text("plain words") == "plain words"  # off for the rest of the run


def test_learned_secret_is_masked_out_of_context():
    r = Redactor()
    r.learn(f"amqp://svc:{FRAGMENT}@rabbit/")
    assert r.model({"problem": f"Rejected {FRAGMENT.upper()}", "k": [FRAGMENT]}) == {
        "problem": "Rejected ***",
        "k": ["***"],
    }


def test_bad_redact_pattern_is_a_usage_error(tmp_path: Path):
    logs = tmp_path / "x.log"
    logs.write_text("hello\n")
    code, out = cli(["report", str(logs), "--redact", "("])
    assert code == 2 and out.count("\n") == 1 and "--redact" in out
    code, out = cli(["report", str(logs), "--redact", "x*"])
    assert code == 2 and "empty string" in out
