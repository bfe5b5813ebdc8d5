"""Workload skeletons: the locustfile runs (real locust, local server), the JMX has JMeter's
structure, the k6 script parses as JavaScript (esprima, a Python package: CI needs no node)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from perfops.analysis.feedback.compare import total_variation
from perfops.ingest import locust as locust_reader
from perfops.ingest.base import IngestOptions
from perfops.workload import EndpointLoad, WorkloadModel, render

MODEL = WorkloadModel(
    service="checkout-api", window="peak-hour", start=datetime(2026, 11, 6, 12), end=datetime(2026, 11, 6, 13),
    total_rps=20.0,
    endpoints=[EndpointLoad("GET /cart", 12.0, 0.6, 95.0, 0.001), EndpointLoad("POST /checkout", 4.0, 0.2, 120.0),
               EndpointLoad("GET /orders/{id}", 4.0, 0.2, None)],
)


def test_json_model_round_trips():
    doc = json.loads(render(MODEL, "json"))
    assert doc["total_rps"] == 20.0 and [e["endpoint"] for e in doc["endpoints"]][0] == "GET /cart"
    assert doc["endpoints"][2]["path"] == "/orders/1" and doc["endpoints"][0]["arrivals_per_minute"] == 720


def test_jmx_has_jmeter_structure():
    root = ET.fromstring(render(MODEL, "jmeter").split("\n", 1)[1])
    assert root.tag == "jmeterTestPlan" and root.get("version") == "1.2"
    top = root.find("hashTree")
    assert top is not None and top.find("TestPlan") is not None
    plan_tree = top.find("hashTree")
    groups = plan_tree.findall("ThreadGroup")
    assert len(groups) == 3 and len(plan_tree.findall("hashTree")) == 3  # each element followed by its hashTree
    for tree in plan_tree.findall("hashTree"):
        sampler, timer = tree.find("HTTPSamplerProxy"), tree.find("ConstantThroughputTimer")
        assert sampler is not None and timer is not None and len(tree.findall("hashTree")) == 2
        assert sampler.find("stringProp[@name='HTTPSampler.method']").text in ("GET", "POST")
        throughput = timer.find("doubleProp")
        assert throughput.find("name").text == "throughput" and float(throughput.find("value").text) > 0
    rates = [float(t.find("doubleProp/value").text) for t in plan_tree.iter("ConstantThroughputTimer")]
    assert rates == [720.0, 240.0, 240.0]


def test_k6_script_parses_as_javascript():
    esprima = pytest.importorskip("esprima")
    script = render(MODEL, "k6")
    tree = esprima.parseModule(script)
    exported = [n.declaration.id.name for n in tree.body if n.type == "ExportNamedDeclaration"
                and n.declaration.type == "FunctionDeclaration"]
    assert exported == ["endpoint_0", "endpoint_1", "endpoint_2"]
    options = json.loads(script.split("export const options = ", 1)[1].split(";\n", 1)[0])
    assert {s["executor"] for s in options["scenarios"].values()} == {"constant-arrival-rate"}
    assert [s["rate"] for s in options["scenarios"].values()] == [720, 240, 240]


class _Ok(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.mark.slow
def test_generated_locustfile_runs_and_keeps_the_mix(tmp_path: Path, small_catalog):
    # only look for locust: importing it here would let gevent patch this process (and deadlock
    # on the import lock when other tests left threads behind); it runs in its own process below
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed (it is in requirements.lock)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        locustfile = tmp_path / "locustfile.py"
        locustfile.write_text(render(MODEL, "locust"))
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "20", "-r", "20",
               "-t", "6s", "--host", f"http://127.0.0.1:{server.server_port}", "--csv", str(tmp_path / "run"),
               "--only-summary", "--exit-code-on-error", "0"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        server.shutdown()
    batch = locust_reader.read(tmp_path / "run_stats.csv", IngestOptions(catalog=small_catalog, service="checkout-api"))
    eps = batch.test_endpoints.set_index("endpoint")
    assert eps["errors"].sum() == 0 and eps["samples"].sum() >= 40
    achieved = (eps["samples"] / eps["samples"].sum()).to_dict()
    assert set(achieved) == {"GET /cart", "POST /checkout", "GET /orders/{id}"}
    assert total_variation(achieved, {e.endpoint: e.share for e in MODEL.endpoints}) < 0.15
