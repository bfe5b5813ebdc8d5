"""Load-test labels: one endpoint per row, as access logs name it.

Locust names with query strings (`/users/search?first_name=…`, a real file: see
tests/fixtures/locust-query-strings/PROVENANCE.md) gave one row per query and crashed the report;
ids in paths (`/api/jobs/<uuid>/update`) kept a test's mix from lining up with production.
Expected numbers are computed here from the files with the csv module, not from perfops.
"""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for

FIXTURES = Path(__file__).parent / "fixtures"
LOCUST_STATS = FIXTURES / "locust-query-strings" / "locust_10_users_stats.csv"


def _read(path: Path, catalog):
    return reader_for(path).read(path, IngestOptions(catalog=catalog, service="checkout-api"))


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, int(np.ceil(q / 100 * len(ordered)))) - 1]


# ---- Locust: rows of one endpoint merged ----------------------------------------------------------
def _locust_rows() -> tuple[list[dict[str, str]], dict[str, str]]:
    with LOCUST_STATS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if r["Name"] != "Aggregated"], next(r for r in rows if r["Name"] == "Aggregated")


def test_locust_query_strings_merge_into_one_endpoint(small_catalog):
    rows, aggregated = _locust_rows()
    assert len(rows) == 129 and all(r["Name"].startswith("/users/search?") for r in rows)
    batch = _read(LOCUST_STATS, small_catalog)
    eps = batch.test_endpoints
    assert eps["endpoint"].tolist() == ["GET /users/search"]
    ep = eps.iloc[0]
    counts = np.array([float(r["Request Count"]) for r in rows])
    assert ep["samples"] == counts.sum() == float(aggregated["Request Count"]) == 186
    assert ep["errors"] == sum(int(r["Failure Count"]) for r in rows) == 0
    weighted = (counts * np.array([float(r["Average Response Time"]) for r in rows])).sum() / counts.sum()
    assert ep["latency_avg_ms"] == pytest.approx(weighted) == pytest.approx(float(aggregated["Average Response Time"]))
    assert ep["latency_max_ms"] == max(float(r["Max Response Time"]) for r in rows)
    assert ep["throughput_rps"] == pytest.approx(sum(float(r["Requests/s"]) for r in rows))
    assert not ep["exact_percentiles"]
    for q in (50, 95, 99):
        per_row = [float(r[f"{q}%"]) for r in rows]
        # an upper bound of the merged percentile (Locust's own, from its full histogram), never
        # above the worst row's
        assert float(aggregated[f"{q}%"]) <= ep[f"latency_p{q}_ms"] <= max(per_row)


def test_merged_percentiles_of_one_sample_rows_are_exact():
    """Rows of one sample describe their sample exactly: the mixture gives the nearest rank."""
    import pandas as pd

    from perfops.ingest.testrun_common import merge_summary_rows

    values = [120.0, 80.0, 300.0, 95.0, 101.0]
    rows = pd.DataFrame({
        "run_id": "r", "endpoint": "GET /a", "samples": 1, "errors": 0, "throughput_rps": 0.5,
        **{f"latency_p{q}_ms": values for q in (50, 90, 95, 99)}, "latency_avg_ms": values,
        "latency_max_ms": values, "exact_percentiles": False})
    knots = pd.DataFrame({50.0: values, 100.0: values})
    merged = merge_summary_rows(rows, knots).iloc[0]
    assert merged["samples"] == 5 and merged["throughput_rps"] == pytest.approx(2.5)
    for q in (50, 90, 95, 99):
        assert merged[f"latency_p{q}_ms"] == _nearest_rank(values, q)


def test_locust_history_keeps_per_name_totals(tmp_path, small_catalog):
    """Cumulative totals are differenced per Locust name, then summed per endpoint."""
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,95%,Total Request Count,Total Failure Count\n"
    stats = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
             "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,95%,100%\n"
             "GET,/items/1,30,0,10,10,5,20,1,1.0,0,10,20,20\nGET,/items/2,50,0,12,12,5,30,1,1.0,0,12,30,30\n")
    history = header + "".join(
        f"{1729614600 + 10 * i},5,GET,/items/{n},1,0,20,{total * (i + 1)},0\n"
        for i in range(3) for n, total in ((1, 10), (2, 20)))
    (tmp_path / "run_stats.csv").write_text(stats)
    (tmp_path / "run_stats_history.csv").write_text(history)
    series = _read(tmp_path / "run_stats.csv", small_catalog).test_series
    per_interval = series[series["endpoint"] == "GET /items/{id}"]["requests"].tolist()
    assert per_interval == [30.0, 30.0, 30.0]


def test_report_of_a_run_with_query_string_labels(workspace, cli):
    """The report crashed in the load-test section (several rows of one endpoint) and exited 0."""
    ws = workspace
    run = ws / "in"
    run.mkdir()
    for name in ("locust_10_users_stats.csv", "locust_10_users_stats_history.csv"):
        (run / name).write_bytes((LOCUST_STATS.parent / name).read_bytes())
    assert cli("ingest", str(run / "locust_10_users_stats.csv"), "--service", "checkout-api", workspace=ws).code == 0
    assert cli("analyze", workspace=ws).code == 0
    result = cli("report", workspace=ws)
    assert result.code == 0, result
    report = (ws / "reports" / "developer" / "checkout-api.md").read_text()
    assert "| GET /users/search | 100 |" in report  # one row, the whole mix
    assert "could not be built" not in report


# ---- ids folded in every test format -----------------------------------------------------------
JOBS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(6)]
ELAPSED = [[40, 55, 61], [70, 33], [120], [48, 52, 58, 90], [44], [300, 41]]


def _samples():
    """(timestamp ms, job id, elapsed ms) of the fixture run: two endpoints per job."""
    at = 1_763_020_800_000  # 2025-11-13
    for j, job in enumerate(JOBS):
        for k, ms in enumerate(ELAPSED[j]):
            at += 250
            yield at, job, ms, k


def _all_update_latencies() -> list[float]:
    return [float(ms) for _, _, ms, _ in _samples()]


def _jtl(path: Path) -> Path:
    head = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage," \
           "bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
    lines = [f"{t},{ms},POST /api/jobs/{job}/update,200,OK,Jobs 1-1,text,true,,120,80,1,1,"
             f"https://jobs.example.com/api/jobs/{job}/update?trace={k},{ms},0,3\n" for t, job, ms, k in _samples()]
    lines += [f"{t + 1},5,GET /api/jobs/{7000 + k},200,OK,Jobs 1-1,text,true,,90,60,1,1,"
              f"https://jobs.example.com/api/jobs/{7000 + k},5,0,1\n" for t, _, _, k in _samples()]
    path.write_text(head + "".join(lines))
    return path


def _k6(path: Path) -> Path:
    points = []
    for t, job, ms, _ in _samples():
        stamp = f"2025-11-13T08:00:{(t // 1000) % 60:02d}.{t % 1000:03d}Z"
        for url, method, value in ((f"https://jobs.example.com/api/jobs/{job}/update", "POST", ms),
                                   (f"https://jobs.example.com/api/jobs/{abs(hash(job)) % 9000}", "GET", 5)):
            points.append({"type": "Point", "metric": "http_req_duration", "data": {
                "time": stamp, "value": float(value),
                "tags": {"method": method, "name": url, "url": url, "status": "200", "expected_response": "true"}}})
    head = {"type": "Metric", "data": {"name": "http_req_duration", "type": "trend", "contains": "time"},
            "metric": "http_req_duration"}
    path.write_text("\n".join(json.dumps(p) for p in [head, *points]) + "\n")
    return path


def _gatling(path: Path) -> Path:
    lines = ["RUN\tcom.example.JobsSimulation\tjobssimulation\t1763020800000\t \t3.9.5",
             "USER\tJobs\tSTART\t1763020800100"]
    for t, job, ms, _ in _samples():
        lines.append(f"REQUEST\t\tPOST /api/jobs/{job}/update\t{t}\t{t + ms}\tOK\t ")
    lines.append("USER\tJobs\tEND\t1763020900000")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("make", [_jtl, _k6, _gatling], ids=["jmeter", "k6", "gatling"])
def test_ids_fold_with_exact_percentiles(tmp_path, small_catalog, make):
    suffix = {"_jtl": "results.jtl", "_k6": "out.ndjson", "_gatling": "simulation.log"}[make.__name__]
    batch = _read(make(tmp_path / suffix), small_catalog)
    eps = batch.test_endpoints.set_index("endpoint")
    assert "POST /api/jobs/{id}/update" in eps.index
    assert not any(job in name for name in eps.index for job in JOBS)
    update = eps.loc["POST /api/jobs/{id}/update"]
    latencies = _all_update_latencies()
    assert update["samples"] == len(latencies)
    assert bool(update["exact_percentiles"])
    for q in (50, 90, 95, 99):
        assert update[f"latency_p{q}_ms"] == pytest.approx(_nearest_rank(latencies, q))
    assert update["latency_max_ms"] == max(latencies)
    assert update["latency_avg_ms"] == pytest.approx(np.mean(latencies))
    series = batch.test_series
    assert set(series["endpoint"]) <= {"", *eps.index}
    assert series.loc[series["endpoint"] == "POST /api/jobs/{id}/update", "requests"].sum() == len(latencies)


def test_k6_summary_submetrics_fold_and_merge(tmp_path, small_catalog):
    metrics = {"http_reqs": {"type": "counter", "values": {"count": 30, "rate": 3.0}},
               "http_req_duration": {"type": "trend", "values": {"avg": 50, "med": 40, "p(90)": 90, "p(95)": 95,
                                                                  "max": 200}}}
    for i, (count, avg, top) in enumerate(((10, 30.0, 100.0), (20, 60.0, 200.0))):
        tag = f"{{name:GET /api/jobs/{JOBS[i]}}}"
        metrics[f"http_reqs{tag}"] = {"type": "counter", "values": {"count": count, "rate": count / 10}}
        metrics[f"http_req_duration{tag}"] = {"type": "trend", "values": {
            "avg": avg, "med": avg, "p(90)": top * 0.8, "p(95)": top * 0.9, "max": top}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"metrics": metrics, "root_group": {}}))
    eps = _read(path, small_catalog).test_endpoints.set_index("endpoint")
    job = eps.loc["GET /api/jobs/{id}"]
    assert job["samples"] == 30 and job["latency_max_ms"] == 200.0
    assert job["latency_avg_ms"] == pytest.approx((10 * 30 + 20 * 60) / 30)
    assert job["throughput_rps"] == pytest.approx(3.0)
    assert 160.0 <= job["latency_p90_ms"] <= 180.0  # between the rows' p90s: the bound, not a mean


# ---- compare-test lines a test's mix up with production's -------------------------------------
NGINX_FORMAT = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ' \
               '"$http_referer" "$http_user_agent" $request_time'


def _production_log(path: Path) -> Path:
    """A day of nginx lines, 3 job updates for each job read, ids in every path."""
    lines = []
    for minute in range(0, 24 * 60, 2):
        hh, mm = divmod(minute, 60)
        stamp = f"12/Nov/2025:{hh:02d}:{mm:02d}:00 +0000"
        for k in range(3):
            job = uuid.UUID(int=minute * 10 + k)
            lines.append(f'10.0.0.{k} - - [{stamp}] "POST /api/jobs/{job}/update HTTP/1.1" 200 12 "-" '
                         f'"okhttp/4.9" 0.0{4 + k}')
        lines.append(f'10.0.0.9 - - [{stamp}] "GET /api/jobs/{minute + 100} HTTP/1.1" 200 512 "-" "okhttp/4.9" 0.005')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compare_test_lines_up_ids_with_production(workspace, tmp_path, cli):
    ws = workspace
    prod = _production_log(tmp_path / "access.log")
    assert cli("ingest", str(prod), "--format", "access-log", "--service", "checkout-api", "--log-format",
               NGINX_FORMAT, workspace=ws).code == 0
    jtl = _jtl(tmp_path / "jobs.jtl")
    assert cli("ingest", str(jtl), "--service", "checkout-api", "--run-id", "jobs-1", workspace=ws).code == 0
    result = cli("compare-test", "jobs-1", "--format", "json", workspace=ws)
    doc = json.loads(result.out[result.out.index("{"): result.out.rindex("}") + 1])
    coverage = next(c for c in doc["checks"] if c["name"] == "coverage")
    assert coverage["evidence"]["missing"] == [], coverage
    table = {row["endpoint"]: row for row in doc["endpoints"]}
    assert set(table) == {"POST /api/jobs/{id}/update", "GET /api/jobs/{id}", "POST /checkout", "GET /cart"}
    update, read = table["POST /api/jobs/{id}/update"], table["GET /api/jobs/{id}"]
    assert update["test_rps"] > 0 and update["production_share"] == pytest.approx(0.75, abs=0.01)
    assert read["test_rps"] > 0 and read["production_share"] == pytest.approx(0.25, abs=0.01)


def test_uuid_with_an_all_digit_first_group_folds_whole():
    """`\\d+` used to win the alternation and stop at the UUID's first dash (`/{id}-0000-…`),
    in access logs as in tests: about 2 % of random UUIDs start with eight digits."""
    from perfops.ingest.testrun_common import fold_endpoints

    assert fold_endpoints(["GET /api/jobs/12345678-9abc-4def-8123-456789abcdef/update",
                           "GET /api/jobs/00000000-0000-0000-0000-000000000001"]) == [
        "GET /api/jobs/{id}/update", "GET /api/jobs/{id}"]
