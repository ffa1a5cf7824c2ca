"""The deployment files, checked as far as a machine without a Docker engine can:
compose.yaml against the Compose specification's JSON schema, the Dockerfile
with hadolint, and the references between compose.yaml, the Prometheus
configuration and the code."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.processes import ROOT

BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_specification():
    result = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint_with_no_finding_at_any_level():
    result = run(str(BIN / "hadolint"), "--failure-threshold", "info", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_postgres_web_two_workers_and_prometheus_with_health_checks():
    services = COMPOSE["services"]
    assert {"postgres", "migrate", "web", "worker-1", "worker-2", "prometheus"} <= set(services)
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no health check"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    assert services["worker-1"]["command"] == ["python", "manage.py", "worker"]
    assert services["worker-1"]["healthcheck"]["test"][-1] == "worker_health"
    assert (ROOT / "tasks/management/commands/worker_health.py").exists()
    for mount in services["prometheus"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source
    assert services["prometheus"]["configs"][0]["source"] in COMPOSE["configs"]


def test_prometheus_scrapes_the_web_service_with_the_token_compose_provides():
    [job] = PROMETHEUS["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert "web" in COMPOSE["services"] and "8000:8000" in COMPOSE["services"]["web"]["ports"]
    token_target = COMPOSE["services"]["prometheus"]["configs"][0]["target"]
    assert job["authorization"]["credentials_file"] == token_target
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert all(rule["expr"] for group in rules["groups"] for rule in group["rules"])


@pytest.mark.parametrize("excluded", [".venv", ".pgdata", ".git", "tests"])
def test_the_image_leaves_out_local_state_and_tests(excluded):
    assert excluded in (ROOT / ".dockerignore").read_text().split()


def test_compose_the_image_and_make_run_start_the_same_web_server():
    launcher = ["python", "-m", "queueproject.webserver"]
    assert COMPOSE["services"]["web"]["command"][:3] == launcher
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert cmd.startswith('CMD ["python", "-m", "queueproject.webserver"')
    assert '"-m", "queueproject.webserver"' in (ROOT / "tasks/management/commands/serve.py").read_text()
