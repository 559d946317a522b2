"""One release, said everywhere (--version, /healthz, the User-Agent sent to remote systems), its changelog,
the install footprint (runtime dependencies declared, bounded and pinned) and the files under contrib/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import responses
import yaml
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from adapters.base import AgentInfo, Change, StateInfo
from adapters.examples.webhook import WebhookAdapter
from adapters.teams import TeamsAdapter
from connector.cli import main
from connector.parts import get_parts
from connector.salesforce.state import note_api_usage
from tests.helpers.adapter_doubles import Recorder
from tests.helpers.api import Api

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RELEASE = PYPROJECT["project"]["version"]
UA = f"PresenceConnector/{RELEASE}"


def test_the_version_is_the_one_in_pyproject_everywhere(api):
    assert version("presence-connector") == RELEASE
    shown = CliRunner().invoke(main, ["--version"])
    assert shown.exit_code == 0 and shown.output.strip() == f"presence-connector {RELEASE}"
    assert api.client.get("/healthz").get_json()["version"] == RELEASE


def test_adapters_and_salesforce_say_who_calls_in_the_user_agent(make_app):
    app = make_app(SF_LOGIN_URL="https://acme.my.salesforce.com", SF_CLIENT_ID="id", SF_CLIENT_SECRET="secret")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "https://hooks.example.com/presence", status=200)
        rsps.add(
            responses.POST,
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
            json={"access_token": "graph-token", "expires_in": 3600},
        )
        rsps.add(responses.POST, re.compile(r"https://graph\.microsoft\.com/.*/presence/setPresence"))
        rsps.add(
            responses.POST,
            "https://acme.my.salesforce.com/services/oauth2/token",
            json={"access_token": "00Dxx!tok", "instance_url": "https://acme.my.salesforce.com"},
        )
        rsps.add(responses.GET, re.compile(r"https://acme\.my\.salesforce\.com/services/data/v[0-9.]+/limits"), json={})
        agent = AgentInfo(id="edred", name="Edred", email="edred@example.com")
        change = Change(
            kind="presence",
            at=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
            state=StateInfo(id="dnd", label="Busy", status=2),
            key="outbox-1",
        )
        WebhookAdapter({"url": "https://hooks.example.com/presence"}).push(agent, change)
        teams = TeamsAdapter({"tenant_id": "t1", "client_id": "c1", "client_secret": "s1"})
        teams._post("edred@example.com", "setPresence", {})
        connection = get_parts(app).salesforce.connection
        assert connection is not None
        connection.call("GET", "limits")
        sent = {(call.request.method, call.request.url): call.request.headers.get("User-Agent") for call in rsps.calls}
    assert len(sent) == 5 and set(sent.values()) == {UA}, sent


def test_the_changelog_has_this_release_with_its_upgrade_steps():
    text = (ROOT / "CHANGELOG.md").read_text()
    heading = re.search(rf"^## \[?{re.escape(RELEASE)}\]? — \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    assert heading, f"CHANGELOG.md has no '## {RELEASE} — YYYY-MM-DD' entry"
    entry = text[heading.end() :].split("\n## ", 1)[0]
    assert "### Upgrading" in entry


def test_runtime_dependencies_are_declared_bounded_and_pinned():
    project = PYPROJECT["project"]
    assert isinstance(project["license"], str)  # PEP 639: an SPDX expression, not a table
    names = {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert {"click", "werkzeug", "itsdangerous", "flask"} <= names  # imported directly, so declared
    assert "playwright" not in names and "pytest" not in names  # `make run` installs none of the test tools
    for dependency in project["dependencies"]:
        assert "<" in dependency or dependency.startswith("tzdata"), f"{dependency} has no upper bound"
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    wanted = names | {
        re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower() for d in project["optional-dependencies"]["test"]
    }
    assert {n.replace("_", "-") for n in wanted} <= pinned, "constraints.txt misses a dependency: `make constraints`"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: install-runtime$", makefile, re.M)
    assert "-c constraints.txt -e .\n" in makefile


def _exposed_names(make_app) -> set[str]:
    """Every metric name a busy app exposes (each family with its sample names)."""
    app = make_app(ADAPTERS=[Recorder("teams")], CONNECTOR_METRICS_TOKEN="m" * 40)
    api = Api(app, app.test_client())
    api.agent("edred")
    api.parts.service.login("edred", "Softphone", "browser")
    api.parts.dispatcher.drain()
    api.parts.service.set_state("edred", "dnd")
    assert api.parts.leases is not None and api.parts.leases.acquire("salesforce-flush", 60)
    api.parts.store.write_shared(lambda conn: note_api_usage(conn, 1, 10, api.parts.clock()))
    text = api.client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40}).get_data(as_text=True)
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
        names |= {s.name for s in family.samples}
    return names


def _used_names(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:connector|process)_[a-z0-9_]+)", expr))


def test_the_grafana_dashboard_and_the_alert_rules_use_only_metrics_the_app_exposes(make_app):
    exposed = _exposed_names(make_app)
    dashboard = json.loads((ROOT / "contrib/grafana/presence-connector.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((ROOT / "contrib/prometheus/alerts.yaml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) >= 15 and len(alerts) >= 8
    assert all({"alert", "expr", "labels", "annotations"} <= set(r) for r in alerts)
    for expr in exprs + [r["expr"] for r in alerts]:
        assert _used_names(expr) <= exposed, f"{expr} uses {_used_names(expr) - exposed}"


def test_the_compose_file_and_dockerfile_hang_together():
    compose = yaml.safe_load((ROOT / "contrib/docker/compose.yaml").read_text())
    assert {"connector", "postgres"} <= set(compose["services"])
    connector = compose["services"]["connector"]
    assert (ROOT / "contrib/docker" / connector["build"]["context"] / connector["build"]["dockerfile"]).is_file()
    assert connector["environment"]["CONNECTOR_DATABASE_URL"].startswith("postgresql+psycopg://")
    dockerfile = (ROOT / "contrib/docker/Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert "-c constraints.txt '.[postgres]'" in dockerfile  # runtime only, pinned
    assert "USER presence" in dockerfile


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    unit = (ROOT / "contrib/systemd/presence-connector.service").read_text()
    # verify checks that the programs exist: point the unit at this venv's command line
    here = str(Path(sys.executable).parent / "presence-connector")
    checked = tmp_path / "presence-connector.service"
    checked.write_text(unit.replace("/opt/presence-connector/bin/presence-connector", here))
    done = subprocess.run(["systemd-analyze", "verify", str(checked)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "presence-connector.service" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Prometheus) is not installed here")
def test_promtool_accepts_the_alert_rules_and_the_exposition(make_app, tmp_path):
    rules = subprocess.run(
        ["promtool", "check", "rules", str(ROOT / "contrib/prometheus/alerts.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    app = make_app(CONNECTOR_METRICS_TOKEN="m" * 40)
    text = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 40}).get_data(as_text=True)
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
