"""Shared fixtures: a small catalog, a temporary workspace, and the shared samples folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Starlette's TestClient sends Host: testserver; the dashboard answers only names it is told of
os.environ.setdefault("PERFOPS_WEB_ALLOWED_HOSTS", "testserver")

SMALL_CATALOG = """\
domain: Payments
timezone: Europe/London
squads:
  - name: checkout
    lead: Priya Shah
  - name: payments
services:
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments]
    slo: {availability: 99.9, latency_p95_ms: 300}
    nfr:
      peak_tps: 50
      transaction_mix: {"POST /checkout": 30, "GET /cart": 70}
    capacity: {instances: 4, max_tps_per_instance: 40}
    cost: {instance_hourly: 0.2}
  - name: payments
    squad: payments
    tier: 1
journeys:
  - name: purchase
    steps: ["checkout-api:POST /checkout", "payments:POST /pay"]
consumers:
  - name: partner-acme
"""


def _shared() -> Path | None:
    env = os.environ.get("PERFOPS_SHARED")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared", ROOT.parent.parent / "shared"]:
        if (candidate / "samples").is_dir():
            return candidate
    return None


@pytest.fixture
def shared_dir() -> Path:
    """../shared (CI has it); conformance tests skip when it is absent."""
    found = _shared()
    if found is None:
        pytest.skip("../shared is not present: conformance suite skipped")
    return found


@pytest.fixture
def small_catalog_text() -> str:
    return SMALL_CATALOG


@pytest.fixture
def small_catalog():
    from perfops.workspace import parse_catalog

    return parse_catalog(SMALL_CATALOG)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace folder with the small catalog in it."""
    (tmp_path / "perfops.yaml").write_text(SMALL_CATALOG)
    return tmp_path


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `perfops ARGS` in-process through the real entry point (its error boundary included)."""
    import sys

    from perfops.cli.app import main

    def run(*args: str, workspace: Path | None = None) -> CliResult:
        argv = ["perfops", *args]
        if workspace is not None:
            argv += ["--workspace", str(workspace)]
        monkeypatch.setattr(sys, "argv", argv)
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo domain generated, ingested and analysed once for the session (reports are
    written by the tests that need them). Returns (manifest, workspace, findings)."""
    from perfops.demo import generate_demo
    from perfops.usecases.analyze import analyze
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace

    root = tmp_path_factory.mktemp("demo")
    manifest = generate_demo(root)
    workspace = Workspace(root)
    for item in manifest.inputs:
        ingest_paths(workspace, [item.path], format_name=item.format, **item.options)
    result = analyze(workspace, period="7d", at=manifest.end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return manifest, workspace, result.findings


def analysed_workspace(root: Path, services: list[str], cli) -> None:
    """Two days of 5-minute traffic for `services`, ingested and analysed: the stored run a report
    or the dashboard shows (they compute no analysis of their own)."""
    lines = ["timestamp,service,metric,value"]
    for step in range(2 * 288):
        minutes = 5 * step
        stamp = f"2026-01-{5 + minutes // 1440:02d}T{(minutes % 1440) // 60:02d}:{minutes % 60:02d}:00Z"
        lines += [f"{stamp},{name},requests,{100 + step % 7}" for name in services]
    (root / "traffic.csv").write_text("\n".join(lines) + "\n")
    assert cli("ingest", str(root / "traffic.csv"), workspace=root).code == 0
    done = cli("analyze", "--period", "1d", workspace=root)
    assert done.code == 0, done
