"""Issue 12: statuses a careful SRE would sign, on full Cloud Run exports (audit, system, request and app logs).

Each test writes down the expected statuses first; the scenarios are built with tests/scenario_logs.py.
A service is (name, region): ``checkout@europe-west1`` in a builder is ``checkout`` in europe-west1.
"""

from __future__ import annotations

import orjson

from tests.scenario_logs import (
    PG_TRACE,
    PROBE_OK,
    crash,
    deploy,
    healthy,
    ready,
    request,
    system,
    text,
    update_traffic,
)
from triage.commands.common import RunOptions, build_model, run_analysis
from triage.report.render import render_json, render_markdown
from triage.sources import MemorySource

OPTS = RunOptions(use_config=False, date="2025-09-10")
# Request-time failure on a healthy instance: the pool lost its database.
PG_SERVING = 'sqlalchemy.exc.OperationalError: connection to server at "10.0.0.3", port 5432 failed: Connection refused'
KEYERR_IMPORT = """Traceback (most recent call last):
  File "/app/main.py", line 3, in <module>
    from app.settings import settings
  File "/app/settings.py", line 7, in <module>
    DATABASE_URL = os.environ["DATABASE_URL"]
  File "<frozen os>", line 679, in __getitem__
KeyError: 'DATABASE_URL'"""
OOM = ("Memory limit of 512 MiB exceeded with 530 MiB used. Consider increasing the memory limit, see "
       "https://cloud.google.com/run/docs/configuring/memory-limits")  # fmt: skip


def run(entries: list[dict]) -> tuple[dict, str]:
    analysis = run_analysis(OPTS, [MemorySource(entries)])
    model = orjson.loads(render_json(build_model(OPTS, analysis)))
    return model, render_markdown(model, "audit")


def statuses(model: dict) -> dict[tuple[str, str], str]:
    return {(i["service"], i["rule"]): i["status"] for i in model["issues"]}


def issue(model: dict, service: str, rule: str) -> dict:
    return next(i for i in model["issues"] if i["service"] == service and i["rule"] == rule)


def service(model: dict, name: str) -> dict:
    return next(s for s in model["services"] if s["name"] == name)


def serving_errors(t: float, svc: str, rev: str, inst: str, n: int, gap: float = 20) -> list[dict]:
    """n failed requests, each with the app's error line (request time: the instance already served)."""
    out = []
    for i in range(n):
        at = t + gap * i
        out.append(text(at, svc, rev, inst, PG_SERVING, log="stderr", severity="ERROR"))
        out.append(request(at + 0.1, svc, rev, inst, 500))
    return out


def ok_requests(t: float, svc: str, rev: str, inst: str, n: int, gap: float = 30) -> list[dict]:
    return [request(t + gap * i, svc, rev, inst, 200) for i in range(n)]


# ---------------------------------------------------------------------------------------------------------
# Region
# ---------------------------------------------------------------------------------------------------------


def two_regions() -> list[dict]:
    """checkout healthy in us-central1 (revision 6), failing at import in europe-west1 (revision 3)."""
    us, eu = "checkout@us-central1", "checkout@europe-west1"
    out = [deploy(0, us, "checkout-00006-usa", "aaa111"), *healthy(10, us, "checkout-00006-usa", "u1", requests=8)]
    out.append(deploy(100, eu, "checkout-00003-eub", "aaa111"))
    for i in range(3):
        out += crash(110 + 40 * i, eu, "checkout-00003-eub", f"e{i}", PG_TRACE)
    out.append(ready(240, eu, "checkout-00003-eub", False))
    return out


def test_one_name_in_two_regions_is_two_services():
    expected = {("checkout (europe-west1)", "postgres-connection-refused"): "PENDING"}
    model, md = run(two_regions())
    assert statuses(model) == expected
    us, eu = service(model, "checkout (us-central1)"), service(model, "checkout (europe-west1)")
    assert (us["status"], eu["status"]) == ("Running", "Failed")
    # Revision numbers are per region: us-central1's revision 6 says nothing about europe-west1's revision 3.
    assert (us["revisions"], eu["revisions"]) == (["checkout-00006-usa"], ["checkout-00003-eub"])
    assert (us["location"], eu["location"]) == ("us-central1", "europe-west1")
    assert issue(model, "checkout (europe-west1)", "postgres-connection-refused")["location"] == "europe-west1"
    assert "| Checkout (europe-west1) | ❌ Failed |" in md
    assert "| Checkout (us-central1) | ✅ Running |" in md


def test_a_name_in_one_region_shows_no_region():
    model, md = run([e for e in two_regions() if e["resource"]["labels"]["location"] == "europe-west1"])
    assert statuses(model) == {("checkout", "postgres-connection-refused"): "PENDING"}
    assert service(model, "checkout")["location"] == "europe-west1"
    assert "(europe-west1)" not in md


# ---------------------------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------------------------

R1, R2 = "api-00001-aaa", "api-00002-bbb"


def rollback() -> list[dict]:
    """r2 fails while serving; traffic is rolled back to r1, which keeps serving cleanly."""
    out = [deploy(0, "api", R1, "c1", traffic=[(None, 100)]), *healthy(10, "api", R1, "a1", requests=5)]
    out += [deploy(400, "api", R2, "c2", traffic=[(None, 100)], previous=R1), *healthy(410, "api", R2, "b1", 3)]
    out += serving_errors(600, "api", R2, "b1", 6)
    out.append(update_traffic(800, "api", R2, [(R1, 100)]))
    out += ok_requests(810, "api", R1, "a1", 20)
    return out


def test_rollback_to_an_older_healthy_revision_is_running():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    model, _ = run(rollback())
    assert statuses(model) == expected
    api = service(model, "api")
    assert api["status"] == "Running"
    assert api["traffic"] == [{"revision": R1, "percent": 100}]
    texts = [t["text"] for t in model["timeline"]]
    assert f"Traffic rolled back to {R1} (api)" in texts
    assert not any(t.startswith(f"Deploy of api: revision {R2}") and t != f"Deploy of api: revision {R2} (commit c2)"
                   for t in texts)  # fmt: skip
    # The rollback is not a deploy of r2 (the revision its template still names) nor of r1.
    assert sum(t.startswith("Deploy of api") for t in texts) == 2


def test_canary_90_10_whose_canary_fails_is_degraded():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    out = [deploy(0, "api", R1, "c1", traffic=[(None, 100)]), *healthy(10, "api", R1, "a1", requests=10)]
    out.append(deploy(400, "api", R2, "c2", traffic=[(R1, 90), (R2, 10)], previous=R1))
    out += healthy(410, "api", R2, "b1", requests=1)
    out += serving_errors(500, "api", R2, "b1", 5)
    out += ok_requests(420, "api", R1, "a1", 15)
    model, _ = run(out)
    assert statuses(model) == expected
    api = service(model, "api")
    assert api["status"] == "Degraded"
    assert api["traffic"] == [{"revision": R1, "percent": 90}, {"revision": R2, "percent": 10}]
    assert f"Deploy of api: revision {R2} (commit c2); traffic: {R1} 90%, {R2} 10%" in [
        t["text"] for t in model["timeline"]
    ]


def test_fix_deployed_with_no_traffic_while_the_old_revision_keeps_failing():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    out = [deploy(0, "api", R1, "c1", traffic=[(None, 100)]), *healthy(10, "api", R1, "a1", requests=3)]
    out += serving_errors(200, "api", R1, "a1", 5)
    out.append(deploy(400, "api", R2, "c2", traffic=[(R1, 100)], previous=R1))  # --no-traffic
    out += [system(410, "api", R2, "b1", "Starting new instance. Reason: DEPLOYMENT_ROLLOUT"),
            system(411, "api", R2, "b1", PROBE_OK), ready(413, "api", R2, True)]  # fmt: skip
    out += serving_errors(600, "api", R1, "a1", 5)
    out += ok_requests(605, "api", R1, "a1", 3)
    model, md = run(out)
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert (pg["fix_deployed"], pg["fixed_in"], pg["verified"]) == (R2, None, False)
    assert service(model, "api")["status"] == "Degraded"
    assert f"fix deployed in `{R2}`, unverified" in md


def test_a_new_revision_that_served_nothing_proves_nothing_about_a_serving_issue():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=3)]
    out += serving_errors(200, "api", R1, "a1", 4)
    out += [deploy(400, "api", R2, "c2"), *healthy(410, "api", R2, "b1", requests=0)]
    model, _ = run(out)
    assert statuses(model) == expected
    assert issue(model, "api", "postgres-connection-refused")["fix_deployed"] == R2


def test_fix_verified_once_the_new_revision_serves():
    expected = {("api", "postgres-connection-refused"): "FIXED"}
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=3)]
    out += serving_errors(200, "api", R1, "a1", 4)
    out += [deploy(400, "api", R2, "c2"), *healthy(410, "api", R2, "b1", requests=6)]
    model, _ = run(out)
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert (pg["fixed_in"], pg["fixed_commit"], pg["verified"]) == (R2, "c2", True)
    assert service(model, "api")["status"] == "Running"
