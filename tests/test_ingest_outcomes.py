"""What `perfops ingest` says and remembers for a file.

- The ledger keys on what is written: the same file for two services loads twice (it was refused
  as "already ingested"); the same file with the same options still changes nothing.
- Test-result ingests print their sample count; a file that ends early is a warning without -v.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NGINX_FORMAT = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ' \
               '"$http_referer" "$http_user_agent" $request_time'


def _access_log(path: Path) -> Path:
    lines = [f'10.0.0.1 - - [12/Nov/2025:10:{m:02d}:00 +0000] "GET /cart HTTP/1.1" 200 12 "-" "curl/8" 0.02{m % 10}'
             for m in range(60)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _requests_by_service(ws: Path) -> dict[str, float]:
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(ws).store_path, read_only=True) as store:
        frame = store.telemetry.load(services=["checkout-api", "payments"], metrics=["requests"])
    frame = frame[(frame["endpoint"] == "GET /cart") & (frame["consumer"] == "")]
    return frame.groupby("service")["value"].sum().to_dict()


def test_same_file_for_two_services_loads_for_both(workspace, tmp_path, cli):
    log = _access_log(tmp_path / "access.log")
    args = ("ingest", str(log), "--format", "access-log", "--log-format", NGINX_FORMAT)
    first = cli(*args, "--service", "checkout-api", workspace=workspace)
    second = cli(*args, "--service", "payments", workspace=workspace)
    assert first.code == second.code == 0, (first, second)
    assert "already ingested" not in second.out
    assert _requests_by_service(workspace) == {"checkout-api": 60.0, "payments": 60.0}
    again = cli(*args, "--service", "payments", workspace=workspace)
    assert again.code == 0 and "already ingested" in again.out, again
    assert _requests_by_service(workspace) == {"checkout-api": 60.0, "payments": 60.0}


def test_ingest_key_is_the_content_hash_without_options(small_catalog):
    """Stores written before the rule keep recognising files ingested without options."""
    from perfops.ingest.base import IngestOptions
    from perfops.usecases.ingest import ingest_key

    plain = IngestOptions(catalog=small_catalog)
    assert ingest_key("abc", None, plain) == "abc"
    keys = {ingest_key("abc", None, IngestOptions(catalog=small_catalog, service="payments")),
            ingest_key("abc", None, IngestOptions(catalog=small_catalog, service="checkout-api")),
            ingest_key("abc", None, IngestOptions(catalog=small_catalog, run_id="r1")),
            ingest_key("abc", None, IngestOptions(catalog=small_catalog, environment="perf")),
            ingest_key("abc", "telemetry", plain)}
    assert len(keys) == 5 and "abc" not in keys
    assert ingest_key("abc", None, IngestOptions(catalog=small_catalog, skip_bad_rows=True)) == "abc"


def test_test_run_ingest_prints_its_sample_count(workspace, cli):
    stats = FIXTURES / "locust-query-strings" / "locust_10_users_stats.csv"
    result = cli("ingest", str(stats), "--service", "checkout-api", workspace=workspace)
    assert result.code == 0, result
    assert "  run locust_10_users-20241022-163004: 186 samples over 1 endpoint" in result.out.splitlines()


def test_a_file_that_ends_early_warns_without_verbose(workspace, tmp_path, cli):
    head = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,bytes\n"
    rows = [f"{1_763_020_800_000 + i * 100},{40 + i},GET /cart,200,OK,t 1-1,text,true,120\n" for i in range(12)]
    jtl = tmp_path / "killed.jtl"
    jtl.write_text(head + "".join(rows) + "1763020801300,4")  # the run was killed mid-row
    result = cli("ingest", str(jtl), "--service", "checkout-api", workspace=workspace)
    assert result.code == 0, result
    assert f"warning: {jtl}: the file ends early: the last row is incomplete (1 row, cut short) and was not " \
           "read" in result.err.splitlines()
    assert "12 samples over 1 endpoint" in result.out
    quiet = cli("ingest", str(jtl), "--service", "payments", "-q", workspace=workspace)
    assert "the file ends early" in quiet.err


@pytest.mark.conformance
def test_truncated_xml_jtl_warns(shared_dir, workspace, cli):
    path = shared_dir / "samples/jmeter-jtl-xml/hailstorm-nested-subresults-truncated.jtl"
    result = cli("ingest", str(path), "--service", "checkout-api", workspace=workspace)
    assert result.code == 0 and "warning:" in result.err and "the file ends early" in result.err, result
