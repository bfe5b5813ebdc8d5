"""Memory bombs (issue 17, item 7): each is run through the real CLI in a subprocess under a
1.5 GB address-space cap (RLIMIT_AS) and must exit 1 with a message naming the limit — not load,
not SIGSEGV/SIGABRT, not exit 70. Limits are lowered through their environment variables so the
bombs stay small (perfops.model.limits, docs/reliability.md "Limits")."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
CAP = 1536 << 20


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def perfops(workspace: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PERFOPS_MAX_FUTURE_HOURS": str(24 * 365 * 100), **env}
    return subprocess.run([sys.executable, "-m", "perfops.cli", *args, "--workspace", str(workspace)],
                          capture_output=True, text=True, env=environment, preexec_fn=_capped, timeout=600)


def _repeated(seed: Path, size: int) -> bytes:
    """The seed's header, then its data lines repeated until `size` bytes: valid, and compressible."""
    lines = seed.read_bytes().splitlines(keepends=True)
    head, body = (lines[:1], b"".join(lines[1:])) if seed.suffix in (".csv", ".jtl") else ([], b"".join(lines))
    return b"".join(head) + body * (size // len(body) + 1)


STREAMED = [("telemetry", SEEDS / "telemetry" / "long.csv"), ("access-log", SEEDS / "access-log" / "access.log"),
            ("jmeter", SEEDS / "jmeter" / "results.jtl"), ("k6", SEEDS / "k6" / "k6.ndjson")]


@pytest.mark.parametrize(("fmt", "seed"), STREAMED, ids=[s[0] for s in STREAMED])
def test_a_gzip_bomb_is_refused_at_the_decompressed_size_limit(workspace, fmt, seed):
    bomb = workspace / f"bomb{seed.suffix}.gz"
    bomb.write_bytes(gzip.compress(_repeated(seed, 24 << 20), 9))
    assert bomb.stat().st_size < 2 << 20
    service = ["--service", "checkout-api"] if fmt != "telemetry" else []
    result = perfops(workspace, "ingest", str(bomb), "--format", fmt, *service,
                     PERFOPS_MAX_DECOMPRESSED_BYTES=str(4 << 20))
    assert result.returncode == 1, result
    assert "PERFOPS_MAX_DECOMPRESSED_BYTES" in result.stderr and str(bomb) in result.stderr


def test_a_gzip_bomb_of_prometheus_json_is_refused_at_the_document_limit(workspace):
    """A valid query_range answer padded with 64 MB of blanks: 64 KB of gzip."""
    document = (b'{"status":"success",' + b" " * (64 << 20) + b'"data":{"resultType":"matrix","result":[{"metric":'
                b'{"__name__":"http_server_requests_total","service":"checkout-api"},"values":[[1767607200,"1"],'
                b'[1767607260,"2"]]}]}}')
    bomb = workspace / "query_range.json.gz"
    bomb.write_bytes(gzip.compress(document, 9))
    result = perfops(workspace, "ingest", str(bomb), "--format", "prometheus-json",
                     PERFOPS_MAX_DOCUMENT_BYTES=str(16 << 20))
    assert result.returncode == 1, result
    assert "PERFOPS_MAX_DOCUMENT_BYTES" in result.stderr


WIDE = {"telemetry": b"timestamp,service,requests", "events": b"timestamp,service,type",
        "locust": b"Type,Name,Request Count,Failure Count"}


@pytest.mark.parametrize("fmt", list(WIDE))
def test_a_header_of_a_million_commas_is_refused_naming_the_column_limit(workspace, fmt):
    """A 1.1 MB header of commas took 8.4 GB (or SIGABRT) in the telemetry reader; 500,000 commas stay
    under the header-size limit, so the column limit is what refuses them."""
    path = workspace / ("run_stats.csv" if fmt == "locust" else "wide.csv")
    path.write_bytes(WIDE[fmt] + b"," * 500_000 + b"\n2026-01-05T10:00:00Z,checkout-api,5\n")
    service = ["--service", "checkout-api"] if fmt == "locust" else []
    result = perfops(workspace, "ingest", str(path), "--format", fmt, *service)
    assert result.returncode == 1, result
    assert "PERFOPS_MAX_COLUMNS" in result.stderr and ":1: header:" in result.stderr


def test_a_telemetry_header_line_over_the_size_limit_is_refused(workspace):
    path = workspace / "long_header.csv"
    path.write_bytes(b"timestamp,service,requests," + b"x" * (4 << 20) + b"\n")
    result = perfops(workspace, "ingest", str(path), "--format", "telemetry")
    assert result.returncode == 1 and "PERFOPS_MAX_HEADER_BYTES" in result.stderr, result


def _catalog(workspace: Path, extra: str) -> None:
    text = (workspace / "perfops.yaml").read_text()
    (workspace / "perfops.yaml").write_text(text + extra)


def test_a_yaml_alias_bomb_is_refused_naming_the_node_limit(workspace):
    """Nine levels of nine aliases: 387 million nodes; it took 6 GB and exited 70 after 73 s."""
    bomb = 'lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, 9):
        bomb += f"lol{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    _catalog(workspace, bomb)
    result = perfops(workspace, "check")
    assert result.returncode == 1, result
    assert "PERFOPS_MAX_YAML_NODES" in result.stderr


@pytest.mark.parametrize("nesting", ["[" * 50_000 + "]" * 50_000, "{a: " * 50_000 + "1" + "}" * 50_000,
                                     "\n  " + "- " * 2_000 + "x"],
                         ids=["flow-sequences", "flow-mappings", "block-sequences"])
def test_deeply_nested_yaml_is_refused_naming_the_depth_limit(workspace, nesting):
    """50,000 nested brackets crashed the C YAML parser with SIGSEGV."""
    _catalog(workspace, "extra: " + nesting + "\n")  # an unknown key: refused anyway, but after the parse
    result = perfops(workspace, "check")
    assert result.returncode == 1, result
    assert "PERFOPS_MAX_YAML_DEPTH" in result.stderr


def test_a_catalog_with_ordinary_anchors_still_loads(workspace):
    _catalog(workspace, "x-defaults: &defaults {tier: 2}\nx-copy: *defaults\n")
    result = perfops(workspace, "check")
    assert "PERFOPS_MAX_YAML" not in result.stderr


DEEP = 50_000
DEEP_JSON = {
    "otlp-json": b'{"resourceMetrics":' + b"[" * DEEP + b"]" * DEEP + b"}",
    "prometheus-json": b'{"status":"success","data":' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}",
    "k6": b'{"metric":"http_req_duration","type":"Point","data":' + b"[" * DEEP + b"]" * DEEP + b"}\n",
    "cloudwatch-json": b'{"MetricDataResults":' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("fmt", list(DEEP_JSON))
def test_json_nested_50000_levels_is_refused_naming_the_limit(workspace, fmt):
    path = workspace / "deep.json"
    path.write_bytes(DEEP_JSON[fmt])
    service = ["--service", "checkout-api"] if fmt in ("k6", "cloudwatch-json") else []
    result = perfops(workspace, "ingest", str(path), "--format", fmt, *service)
    assert result.returncode == 1, result
    assert "nested deeper than" in result.stderr and "RecursionError" not in result.stderr


def test_every_limit_is_documented_with_its_variable_and_default():
    from perfops.model.limits import defaults

    text = (ROOT / "docs" / "reliability.md").read_text()
    table = text[text.index("## Limits"):text.index("## 2. Crash safety")]
    for variable, default, unit in defaults().values():
        row = next((line for line in table.splitlines() if f"`{variable}`" in line), None)
        assert row is not None, f"{variable} is not in the limits table of docs/reliability.md"
        shown = {"bytes": f"{default / (1 << 30):g} GiB" if default >= 1 << 30 else f"{default / (1 << 20):g} MiB",
                 "hours": f"{default} hours"}.get(unit, f"{default:,}")
        assert shown in row, (variable, shown, row)


def test_a_limit_is_raised_by_its_environment_variable(monkeypatch):
    from perfops.model.limits import described, limit

    monkeypatch.setenv("PERFOPS_MAX_COLUMNS", "20_000")
    assert limit("columns") == 20_000 and "20,000 columns (PERFOPS_MAX_COLUMNS)" in described("columns")
    monkeypatch.setenv("PERFOPS_MAX_COLUMNS", "-5")
    assert limit("columns") == 10_000
