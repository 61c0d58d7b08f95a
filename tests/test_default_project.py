"""The default project of a live run: --project, then $CLOUDSDK_CORE_PROJECT, then $GOOGLE_CLOUD_PROJECT,
then the active gcloud configuration; only for runs that read Cloud Logging without files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fake_logging import FakeLogging, sample_entries
from triage.cli import app
from triage.commands.pull import default_project, gcloud_project, make_live_options
from triage.errors import TriageError

WINDOW = ("--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z")


def gcloud_dir(tmp_path: Path, configs: dict[str, str], active: str | None) -> Path:
    """A fake gcloud config directory: ``configurations/config_<name>`` INI files and ``active_config``."""
    base = tmp_path / "gcloud"
    (base / "configurations").mkdir(parents=True)
    for name, project in configs.items():
        (base / "configurations" / f"config_{name}").write_text(
            f"[core]\naccount = a@example.com\nproject = {project}\n"
        )
    if active is not None:
        (base / "active_config").write_text(active + "\n")
    return base


def test_order_env_then_gcloud(tmp_path: Path) -> None:
    base = gcloud_dir(tmp_path, {"default": "from-default", "work": "from-work"}, active="work")
    env = {"CLOUDSDK_CONFIG": str(base)}
    assert default_project(env) == "from-work"
    assert default_project({**env, "GOOGLE_CLOUD_PROJECT": "gcp"}) == "gcp"
    assert default_project({**env, "GOOGLE_CLOUD_PROJECT": "gcp", "CLOUDSDK_CORE_PROJECT": "core"}) == "core"
    assert default_project({**env, "CLOUDSDK_ACTIVE_CONFIG_NAME": "default"}) == "from-default"


def test_gcloud_without_active_config_uses_default_and_nothing_is_none(tmp_path: Path) -> None:
    base = gcloud_dir(tmp_path, {"default": "only"}, active=None)
    assert gcloud_project({"CLOUDSDK_CONFIG": str(base)}) == "only"
    assert gcloud_project({"CLOUDSDK_CONFIG": str(tmp_path / "missing")}) is None
    no_project = gcloud_dir(tmp_path / "b", {"default": ""}, active="default")
    assert gcloud_project({"CLOUDSDK_CONFIG": str(no_project)}) is None


def test_broken_gcloud_config_is_a_clear_error(tmp_path: Path) -> None:
    base = gcloud_dir(tmp_path, {}, active="x")
    (base / "configurations" / "config_x").write_text("project = no-section\n")
    with pytest.raises(TriageError, match="config_x is not readable INI"):
        gcloud_project({"CLOUDSDK_CONFIG": str(base)})


def test_the_suite_has_no_default_project() -> None:
    assert default_project() is None  # conftest: empty CLOUDSDK_CONFIG, project variables unset


def test_files_never_turn_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "gcp")
    assert make_live_options(None, None, sources=("x.jsonl",)) is None  # a plain file run
    assert make_live_options(None, None) is None  # no live option used: not live either
    with pytest.raises(TriageError, match="--since need --project"):
        make_live_options(None, None, since="1h", sources=("x.jsonl",))
    live = make_live_options(None, None, since="1h")
    assert live is not None and live.project == "gcp"
    assert make_live_options("explicit", None, since="1h").project == "explicit"  # type: ignore[union-attr]
    pulled = make_live_options(None, None, always_live=True)
    assert pulled is not None and pulled.project == "gcp"


def test_no_project_anywhere_says_where_to_set_one() -> None:
    with pytest.raises(TriageError) as info:
        make_live_options(None, ["api"])
    message = str(info.value)
    assert "--service need --project" in message and "GOOGLE_CLOUD_PROJECT" in message
    assert "gcloud config set project" in message and info.value.exit_code == 2


def _projects_read(fake: FakeLogging) -> set[str]:
    return {name for r in fake.requests for name in r.resource_names}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CLOUDSDK_CORE_PROJECT": "core", "GOOGLE_CLOUD_PROJECT": "gcp"}, "projects/core"),
        ({"GOOGLE_CLOUD_PROJECT": "gcp"}, "projects/gcp"),
        ({}, "projects/from-gcloud"),
    ],
)
def test_analyze_reads_the_default_project(
    fake: FakeLogging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    fake.reset(sample_entries(5))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud_dir(tmp_path, {"dev": "from-gcloud"}, active="dev")))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["analyze", *WINDOW, "--anonymous", "--api-endpoint", fake.rest_url, "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _projects_read(fake) == {expected}


def test_pull_without_project_uses_the_default(
    fake: FakeLogging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset(sample_entries(7))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "gcp")
    out = tmp_path / "logs.jsonl"
    args = ["pull", *WINDOW, "--anonymous", "--api-endpoint", fake.rest_url, "--out", str(out), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _projects_read(fake) == {"projects/gcp"} and len(out.read_text().splitlines()) == 7


def test_pull_without_any_project_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pull", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2, result.output
    assert "--project" in result.output and "GOOGLE_CLOUD_PROJECT" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_a_file_run_ignores_the_default_project(
    fake: FakeLogging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset(sample_entries(5))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "gcp")
    logs = tmp_path / "logs.jsonl"
    logs.write_text("".join(json.dumps(e) + "\n" for e in sample_entries(5)))
    monkeypatch.chdir(tmp_path)  # no triage.yaml of the repository
    result = CliRunner().invoke(app, ["analyze", str(logs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert fake.requests == []
