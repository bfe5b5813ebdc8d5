"""docs/deploy.md is tested: its crontab and timer are what `perfops schedule --print` writes, its
Kubernetes manifests parse and hang together, and every perfops command in them runs against a
real workspace."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from croniter import croniter

from perfops.workspace import parse_catalog
from prometheus_server import free_port
from reports_fixture import build_workspace

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
PERFOPS = [sys.executable, "-m", "perfops.cli"]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def _perfops(args: list[str], workspace: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a documented perfops command against `workspace` instead of the documented folder."""
    args = [str(workspace) if a in ("/data", "/srv/perfops") else a for a in args]
    return subprocess.run([*PERFOPS, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_workspace(tmp_path_factory.mktemp("deploy") / "ws")
    catalog = root / "perfops.yaml"
    catalog.write_text(catalog.read_text().replace("    webhook: http://127.0.0.1:9/hook/checkout\n", ""))
    return root


def test_crontab_is_what_schedule_prints(workspace: Path, tmp_path: Path) -> None:
    (documented,) = _blocks("cron")
    paris = tmp_path / "paris"
    paris.mkdir()
    (paris / "perfops.yaml").write_text(_default_schedule_catalog())
    printed = subprocess.run([*PERFOPS, "schedule", "--print", "cron", "--perfops", "/opt/perfops/.venv/bin/perfops",
                              "--workspace", str(paris)], capture_output=True, text=True, check=True).stdout
    assert printed.replace(str(paris), "/srv/perfops") == documented  # the doc shows what the command prints
    jobs = [line for line in documented.splitlines() if line and not line.startswith(("#", "CRON_TZ="))]
    for line in jobs:
        fields = line.split()
        assert croniter.is_valid(" ".join(fields[:5])), line
        command = shlex.split(" ".join(fields[5:]).split(">>")[0])
        assert command[0].endswith("/perfops")
        done = _perfops(command[1:], workspace)
        assert done.returncode == 0, f"{line}\n{done.stderr}"


def test_systemd_units_parse_and_run(workspace: Path, tmp_path: Path) -> None:
    service_text, timer_text = _blocks("ini")
    service, timer = configparser.ConfigParser(), configparser.ConfigParser()
    service.read_string(service_text)
    timer.read_string(timer_text)
    assert service["Service"]["Type"] == "oneshot" and service["Service"]["SuccessExitStatus"] == "75"
    paris = tmp_path / "paris"
    paris.mkdir()
    (paris / "perfops.yaml").write_text(_default_schedule_catalog())
    printed = subprocess.run([*PERFOPS, "schedule", "--print", "systemd", "--workspace", str(paris)],
                             capture_output=True, text=True, check=True).stdout
    assert f"OnCalendar={timer['Timer']['OnCalendar']}\n" in printed
    command = shlex.split(service["Service"]["ExecStart"])
    done = _perfops(command[1:], workspace)
    assert done.returncode == 0, done.stderr
    assert "cycle for the period ending" in done.stdout


def _manifests() -> dict[str, dict]:
    (text,) = _blocks("yaml")[:1]
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def _configmap_catalog() -> str:
    return _manifests()["ConfigMap"]["data"]["perfops.yaml"]


def _default_schedule_catalog() -> str:
    """The doc's catalog with the default schedule: what its crontab and timers show."""
    text = _configmap_catalog()
    return text[:text.index("schedule:")] + "schedule:\n  period: 7d\n"


def test_kubernetes_manifests_hang_together() -> None:
    kinds = _manifests()
    assert set(kinds) == {"PersistentVolumeClaim", "Secret", "ConfigMap", "Deployment", "CronJob"}
    catalog = parse_catalog(_configmap_catalog())
    cron = kinds["CronJob"]["spec"]
    # the weekly cycle is the CronJob's alone; serve --schedule runs the frequent jobs
    assert catalog.schedule is not None and catalog.schedule.cycle is None and catalog.schedule.collect
    assert croniter.is_valid(cron["schedule"]) and "--schedule" in kinds["Deployment"]["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert cron["timeZone"] == catalog.timezone and cron["concurrencyPolicy"] == "Forbid"
    secret = kinds["Secret"]["metadata"]["name"]
    claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
    pods = [kinds["Deployment"]["spec"]["template"]["spec"], cron["jobTemplate"]["spec"]["template"]["spec"]]
    for pod in pods:
        assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v} == {claim}
        for container in pod["containers"]:
            assert container["envFrom"] == [{"secretRef": {"name": secret}}]
    # every squad webhook the catalog takes from the environment is in the Secret
    secret_keys = set(kinds["Secret"]["stringData"])
    assert {s.webhook_env for s in catalog.squads if s.webhook_env} <= secret_keys
    assert {"PERFOPS_TOKEN", "PERFOPS_DOMAIN_WEBHOOK"} <= secret_keys


def test_kubernetes_commands_run(workspace: Path) -> None:
    kinds = _manifests()
    cycle_args = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    done = _perfops(cycle_args, workspace)
    assert done.returncode == 0, done.stderr
    assert any('"step": "report"' in line for line in done.stderr.splitlines())
    serve_args = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    port = free_port()
    args = ["127.0.0.1" if a == "0.0.0.0" else str(port) if a == "8080" else a for a in serve_args]
    args = [str(workspace) if a == "/data" else a for a in args]
    server = subprocess.Popen([*PERFOPS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
        assert 'perfops_cycle_steps_total{outcome="ok",step="report"}' in answer.text
    finally:
        server.terminate()
        server.wait(timeout=30)
