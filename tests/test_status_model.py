"""Issue 12: statuses a careful SRE would sign, on full Cloud Run exports (audit, system, request and app logs).

Each test writes down the expected statuses first; the scenarios are built with tests/scenario_logs.py.
A service is (name, region): ``checkout@europe-west1`` in a builder is ``checkout`` in europe-west1.
"""

from __future__ import annotations

import random
from dataclasses import replace

import orjson

from tests.scenario_logs import (
    PG_TRACE,
    PROBE_FAIL,
    PROBE_OK,
    REDIS_TRACE,
    crash,
    deploy,
    healthy,
    job_execution,
    ready,
    regression,
    request,
    system,
    text,
    ts,
    update_service_v2,
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
    out.append(deploy(100, eu, "checkout-00003-eub", "aaa111", (("DB_PASSWORD", "checkout-db-eu"),)))
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
    link = issue(model, "checkout (europe-west1)", "postgres-connection-refused")["logs_url"]
    assert "service_name%3D%22checkout%22" in link and "location%3D%22europe-west1%22" in link
    secrets = {x["name"]: x["services"] for x in model["configuration"]["secrets"]}
    assert secrets == {"checkout-db-eu": ["checkout (europe-west1)"]}


def test_both_regions_failing_keep_their_own_counts_and_symptoms():
    us = "checkout@us-central1"
    out = [*two_regions(), deploy(300, us, "checkout-00007-usb")]
    out += [*crash(310, us, "checkout-00007-usb", "u9", PG_TRACE), ready(330, us, "checkout-00007-usb", False)]
    expected = {("checkout (europe-west1)", "postgres-connection-refused"): "PENDING",
                ("checkout (us-central1)", "postgres-connection-refused"): "PENDING"}  # fmt: skip
    model, _ = run(out)
    assert statuses(model) == expected
    eu_pg = issue(model, "checkout (europe-west1)", "postgres-connection-refused")
    us_pg = issue(model, "checkout (us-central1)", "postgres-connection-refused")
    assert (eu_pg["count"], us_pg["count"]) == (3, 1)
    chain = ("import-time-initialization", "container-exit-nonzero", "startup-probe-failed")
    assert {s["rule"]: s["count"] for s in eu_pg["symptoms"]} == {
        **dict.fromkeys(chain, 3),
        "container-failed-to-listen": 1,
    }
    assert {s["rule"]: s["count"] for s in us_pg["symptoms"]} == {
        **dict.fromkeys(chain, 1),
        "container-failed-to-listen": 1,
    }
    # us-central1's newest revision failed without answering: its revision 6 still serves.
    assert service(model, "checkout (us-central1)")["status"] == "Running"


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


def test_split_seen_only_in_request_logs():
    """No audit logs in the export: both revisions answer requests to the end, so both serve."""
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    out = [*healthy(10, "api", R1, "a1", requests=0), *healthy(400, "api", R2, "b1", requests=0)]
    out += ok_requests(500, "api", R1, "a1", 9) + serving_errors(505, "api", R2, "b1", 1)
    model, _ = run(out)
    assert statuses(model) == expected
    api = service(model, "api")
    assert (api["status"], api["traffic"]) == (
        "Degraded",
        [{"revision": R1, "percent": 90}, {"revision": R2, "percent": 10}],
    )
    assert api["traffic_note"] == f"traffic: {R1} 90%, {R2} 10%"


def test_v2_update_service_canary_in_a_second_region():
    """v2 entries name the region only in resourceLocation / the resource name, not in resource labels."""
    eu = "api@europe-west1"
    out = [update_service_v2(0, eu, R1, [(None, 100)], "c1"), *healthy(10, eu, R1, "a1", requests=10)]
    out += [update_service_v2(400, eu, R2, [(R1, 80), (R2, 20)], "c2"), *healthy(410, eu, R2, "b1", requests=4)]
    out += [deploy(0, "api@us-central1", "api-00004-us4"), *healthy(10, "api@us-central1", "api-00004-us4", "u1")]
    model, _ = run(out)
    assert statuses(model) == {}
    api_eu = service(model, "api (europe-west1)")
    assert (api_eu["status"], api_eu["revisions"]) == ("Running", [R1, R2])
    assert api_eu["traffic"] == [{"revision": R1, "percent": 80}, {"revision": R2, "percent": 20}]
    assert f"Deploy of api (europe-west1): revision {R2} (commit c2); traffic: {R1} 80%, {R2} 20%" in [
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
    out += serving_errors(200, "api", R1, "a1", 4)  # r1 served 187 s before the database refused it
    out += [deploy(400, "api", R2, "c2"), *healthy(410, "api", R2, "b1", requests=20)]  # r2 serves 217 s
    model, _ = run(out)
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert (pg["fixed_in"], pg["fixed_commit"], pg["verified"]) == (R2, "c2", True)
    assert service(model, "api")["status"] == "Running"


# ---------------------------------------------------------------------------------------------------------
# Progress: a later revision must get past the phase where the issue struck
# ---------------------------------------------------------------------------------------------------------


def test_next_revision_that_dies_earlier_of_something_else_proves_nothing():
    expected = {("api", "postgres-connection-refused"): "PENDING", ("api", "missing-config-env"): "PENDING"}
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=3)]
    out += serving_errors(200, "api", R1, "a1", 4)  # struck while serving
    out.append(deploy(400, "api", R2, "c2"))
    for i in range(2):  # r2 never gets past importing its settings
        out += crash(410 + 40 * i, "api", R2, f"b{i}", KEYERR_IMPORT, code=1)
    out.append(ready(500, "api", R2, False))
    model, md = run(out)
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert (pg["masked_by"], pg["fixed_in"]) == ("api:missing-config-env", None)
    assert f"masked by issue {issue(model, 'api', 'missing-config-env')['number']}" in md
    # r2 failed and never took traffic: r1 still serves, with its open issue.
    assert service(model, "api")["status"] == "Degraded"


def test_next_revision_that_fails_further_along_fixes_the_earlier_failure():
    """r1 dies at import on Redis; r2 imports fine and dies later in startup (lifespan) on PostgreSQL."""
    lifespan = PG_TRACE.replace('File "/app/main.py", line 8, in <module>', 'File "/app/main.py", line 8, in lifespan')
    expected = {("api", "redis-connection-failed"): "FIXED", ("api", "postgres-connection-refused"): "PENDING"}
    out = [deploy(0, "api", R1, "c1")]
    out += crash(10, "api", R1, "a0", REDIS_TRACE, code=1)
    out += [deploy(400, "api", R2, "c2"), *crash(410, "api", R2, "b0", lifespan, code=1), ready(450, "api", R2, False)]
    model, _ = run(out)
    assert statuses(model) == expected
    redis = issue(model, "api", "redis-connection-failed")
    assert (redis["fixed_in"], redis["verified"], redis["masked_by"]) == (R2, False, None)


def test_fix_then_regression():
    r = {n: f"billing-api-0000{n}-r{n}x" for n in range(1, 5)}
    expected = {("billing-api", "redis-connection-failed"): "REGRESSED"}
    model, _ = run(regression())
    assert {k: v for k, v in statuses(model).items() if k[1] == "redis-connection-failed"} == expected
    billing = service(model, "billing-api")
    # r4 failed its rollout and took no traffic: r3 still serves.
    assert (billing["status"], billing["traffic"]) == ("Running", [{"revision": r[3], "percent": 100}])
    assert any(t["kind"] == "regressed" and t["revision"] == r[4] for t in model["timeline"])


def test_a_revision_that_has_only_just_started_decides_nothing():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    out = [deploy(0, "api", R1, "c1"), *crash(10, "api", R1, "a0", PG_TRACE), ready(60, "api", R1, False)]
    out += [
        deploy(400, "api", R2, "c2"),
        system(405, "api", R2, "b0", "Starting new instance. Reason: DEPLOYMENT_ROLLOUT"),
    ]
    model, _ = run(out)
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert (pg["fixed_in"], pg["fix_deployed"], pg["masked_by"]) == (None, None, None)
    assert service(model, "api")["status"] == "Deploying"


def test_two_root_causes_in_one_revision_both_fixed_by_a_serving_revision():
    expected = {("api", "postgres-connection-refused"): "FIXED", ("api", "redis-connection-failed"): "FIXED"}
    out = [deploy(0, "api", R1, "c1"), *crash(10, "api", R1, "a0", PG_TRACE), *crash(60, "api", R1, "a1", REDIS_TRACE)]
    out += [ready(100, "api", R1, False), deploy(400, "api", R2, "c2"), *healthy(410, "api", R2, "b0", requests=5)]
    model, _ = run(out)
    assert statuses(model) == expected
    assert all(i["fixed_in"] == R2 and i["verified"] for i in model["issues"])
    assert service(model, "api")["status"] == "Running"


def test_two_root_causes_one_fixed_one_left():
    expected = {("api", "postgres-connection-refused"): "FIXED", ("api", "redis-connection-failed"): "PENDING"}
    out = [deploy(0, "api", R1, "c1"), *crash(10, "api", R1, "a0", PG_TRACE), *crash(60, "api", R1, "a1", REDIS_TRACE)]
    out += [ready(100, "api", R1, False), deploy(400, "api", R2, "c2"), *crash(410, "api", R2, "b0", REDIS_TRACE)]
    out.append(ready(450, "api", R2, False))
    model, _ = run(out)
    assert statuses(model) == expected
    # r2 died of the Redis issue at the same point (import): it got as far as PostgreSQL's failure did.
    assert issue(model, "api", "postgres-connection-refused")["verified"] is False
    assert service(model, "api")["status"] == "Failed"


def test_oom_only_while_serving_needs_a_revision_that_serves():
    expected_unproven = {("api", "memory-limit-exceeded"): "PENDING"}
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=6)]
    for i in range(3):  # the instance served, then grew past its limit under load
        out.append(system(300 + 60 * i, "api", R1, "a1", OOM, "ERROR"))
        out.append(request(300.5 + 60 * i, "api", R1, "a1", 503))
    out += [deploy(600, "api", R2, "c2"), *healthy(610, "api", R2, "b0", requests=0)]
    model, _ = run(out)
    assert statuses(model) == expected_unproven
    oom = issue(model, "api", "memory-limit-exceeded")
    assert (oom["phase"], oom["fix_deployed"], oom["verified"]) == ("serving", R2, False)
    # r1 ran out of memory after 287 s of serving: a minute of r2 serving proves nothing yet
    model, _ = run([*out, *ok_requests(640, "api", R2, "b0", 3)])
    assert statuses(model) == expected_unproven
    assert issue(model, "api", "memory-limit-exceeded")["fix_deployed"] == R2
    # once r2 has served longer than that without running out of memory, the fix is verified
    model, _ = run([*out, *ok_requests(700, "api", R2, "b0", 10)])
    assert statuses(model) == {("api", "memory-limit-exceeded"): "FIXED"}
    assert issue(model, "api", "memory-limit-exceeded")["verified"] is True


# ---------------------------------------------------------------------------------------------------------
# Recovery without a change
# ---------------------------------------------------------------------------------------------------------


def transient_outage() -> list[dict]:
    """The database restarts for five minutes; the same revision then serves cleanly for an hour."""
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=10)]
    out += serving_errors(600, "api", R1, "a1", 10, gap=30)
    out += ok_requests(1000, "api", R1, "a1", 120)
    return out


def test_a_transient_outage_that_recovers_by_itself():
    expected = {("api", "postgres-connection-refused"): "PENDING"}
    model, md = run(transient_outage())
    assert statuses(model) == expected
    pg = issue(model, "api", "postgres-connection-refused")
    assert pg["recovered_at"] == pg["last_seen"] == ts(600 + 30 * 9)
    assert service(model, "api")["status"] == "Running"
    assert f"not seen since {pg['last_seen']}; recovered without a deploy" in md
    assert "still occurring" not in md
    assert any(t["kind"] == "recovered" for t in model["timeline"])


def test_errors_up_to_the_end_of_the_window_have_not_recovered():
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=10)]
    out += serving_errors(600, "api", R1, "a1", 10, gap=30) + ok_requests(605, "api", R1, "a1", 10, gap=30)
    model, md = run(out)
    assert issue(model, "api", "postgres-connection-refused")["recovered_at"] is None
    assert service(model, "api")["status"] == "Degraded"
    assert "still occurring" in md


def test_a_noisy_but_healthy_deploy():
    """Warnings, a 404, a 429 and one instance whose probe failed before another passed: the revision serves."""
    out = [deploy(0, "api", R1, "c1"), *healthy(10, "api", R1, "a1", requests=5)]
    out += [
        deploy(400, "api", R2, "c2"),
        system(405, "api", R2, "b0", "Starting new instance. Reason: DEPLOYMENT_ROLLOUT"),
    ]
    out += [system(407, "api", R2, "b0", PROBE_FAIL, "ERROR"), *healthy(420, "api", R2, "b1", requests=0)]
    out += [text(430 + i, "api", R2, "b1", "WARNING: slow query took 1.2s", log="stdout", severity="WARNING")
            for i in range(3)]  # fmt: skip
    out += [request(440, "api", R2, "b1", 404), request(441, "api", R2, "b1", 429)]
    out += ok_requests(450, "api", R2, "b1", 30)
    model, md = run(out)
    api = service(model, "api")
    assert api["status"] == "Running"
    assert all(i["status"] == "FIXED" or i["recovered_at"] for i in model["issues"])
    assert "still occurring" not in md


# ---------------------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------------------


def test_a_job_failing_then_succeeding():
    expected = {("nightly-export", "postgres-connection-refused"): "FIXED"}
    out = job_execution(0, "nightly-export", "nightly-export-a1b2c", [[1, 1]], trace=PG_TRACE)  # a retry, failed again
    out += job_execution(3600, "nightly-export", "nightly-export-d3e4f", [[0], [0]])
    model, md = run(out)
    assert statuses(model) == expected
    pg = issue(model, "nightly-export", "postgres-connection-refused")
    assert (pg["fixed_in"], pg["verified"]) == ("nightly-export-d3e4f", True)
    job = service(model, "nightly-export")
    assert (job["kind"], job["status"], job["revision_details"]) == ("job", "Succeeded", [])
    assert [(e["name"], e["outcome"], e["tasks_failed"], e["tasks_succeeded"]) for e in job["executions"]] == [
        ("nightly-export-a1b2c", "failed", 2, 0),
        ("nightly-export-d3e4f", "succeeded", 0, 2),
    ]
    texts = [t["text"] for t in model["timeline"]]
    assert "Execution nightly-export-a1b2c failed (2 task attempts failed) (nightly-export)" in texts
    assert "Execution nightly-export-d3e4f succeeded (nightly-export)" in texts
    assert "| Nightly Export (job) | ✅ Succeeded |" in md
    assert (
        pg["kind"] == "job" and "cloud_run_job" in pg["logs_url"] and "job_name%3D%22nightly-export" in pg["logs_url"]
    )


def test_a_job_whose_latest_execution_failed():
    expected = {("nightly-export", "postgres-connection-refused"): "PENDING"}
    out = job_execution(0, "nightly-export", "nightly-export-a1b2c", [[0]])
    out += job_execution(3600, "nightly-export", "nightly-export-d3e4f", [[1]], trace=PG_TRACE)
    model, _ = run(out)
    assert statuses(model) == expected
    assert service(model, "nightly-export")["status"] == "Failed"


def test_a_job_execution_still_running():
    out = job_execution(0, "nightly-export", "nightly-export-a1b2c", [[0]])
    running = [e for e in job_execution(3600, "nightly-export", "nightly-export-d3e4f", [[0]]) if "has completed" not in
               e["textPayload"]]  # fmt: skip
    model, _ = run(out + running)
    assert service(model, "nightly-export")["status"] == "Running"


# ---------------------------------------------------------------------------------------------------------
# Input order: gcloud prints newest first; sinks deliver lines out of order
# ---------------------------------------------------------------------------------------------------------


def _verdicts(model: dict) -> tuple:
    return (
        sorted((i["id"], i["status"], i["fixed_in"], i["fix_deployed"], i["recovered_at"]) for i in model["issues"]),
        sorted((s["name"], s["status"], str(s["traffic"])) for s in model["services"]),
        [(t["time"], t["text"]) for t in model["timeline"]],
    )


def test_newest_first_gcloud_array_and_out_of_order_lines(tmp_path):
    entries = rollback() + two_regions()
    expected = _verdicts(run(entries)[0])
    newest_first = tmp_path / "gcloud.json"
    newest_first.write_bytes(orjson.dumps(sorted(entries, key=lambda e: e["timestamp"], reverse=True)))
    shuffled = tmp_path / "sink.jsonl"
    mixed = list(entries)
    random.Random(7).shuffle(mixed)
    shuffled.write_bytes(b"\n".join(orjson.dumps(e) for e in mixed) + b"\n")
    for path in (newest_first, shuffled):
        opts = replace(OPTS, sources=(str(path),))
        model = orjson.loads(render_json(build_model(opts, run_analysis(opts))))
        assert _verdicts(model) == expected, path.name
    assert ("api", "Running", str([{"percent": 100, "revision": R1}])) in expected[1]


def test_annotations_match_a_regional_service_by_its_id_or_its_name(tmp_path):
    notes = tmp_path / "notes.yaml"
    notes.write_text(
        "annotations:\n  - rule: postgres-connection-refused\n    service: checkout\n    status: acknowledged\n"
    )
    opts = replace(OPTS, annotations=notes)
    model = orjson.loads(render_json(build_model(opts, run_analysis(opts, [MemorySource(two_regions())]))))
    assert statuses(model) == {("checkout (europe-west1)", "postgres-connection-refused"): "ACKNOWLEDGED"}
    notes.write_text(
        "annotations:\n  - rule: postgres-connection-refused\n    service: checkout (us-central1)\n    status: muted\n"
    )
    model = orjson.loads(render_json(build_model(opts, run_analysis(opts, [MemorySource(two_regions())]))))
    assert statuses(model) == {("checkout (europe-west1)", "postgres-connection-refused"): "PENDING"}
