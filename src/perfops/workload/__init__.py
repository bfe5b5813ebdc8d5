"""Production workload models and the load-test skeletons generated from them.

`WorkloadModel` (model.py) is the data: rates, shares and arrival rates per endpoint at the
production peak. Each generator is one module with `render(model) -> str`: JSON, a Locust
locustfile, a k6 script (a constant-arrival-rate scenario per endpoint) and a JMeter JMX (a
thread group per endpoint paced by a Constant Throughput Timer).
"""

from __future__ import annotations

from perfops.workload.model import EndpointLoad, WorkloadModel

FORMATS = ("json", "locust", "k6", "jmeter")


def render(model: WorkloadModel, fmt: str) -> str:
    """The model in one of FORMATS."""
    if fmt == "json":
        import json

        return json.dumps(model.to_dict(), indent=2) + "\n"
    if fmt == "locust":
        from perfops.workload.locustfile import render as locust_render

        return locust_render(model)
    if fmt == "k6":
        from perfops.workload.k6_script import render as k6_render

        return k6_render(model)
    if fmt == "jmeter":
        from perfops.workload.jmx import render as jmx_render

        return jmx_render(model)
    raise ValueError(f"unknown workload format '{fmt}'; expected one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "EndpointLoad", "WorkloadModel", "render"]
