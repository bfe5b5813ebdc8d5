"""The dashboard's answers for a sample of GET routes of a workspace, as SHA-256 per route, to
compare two checkouts byte for byte (a finding form's fresh idempotency key left out): every
squad page and JSON, 1 in 10 services' pages and JSON (and 1 in 5 of those with findings), every
20th endpoint and 50th finding page, the domain, findings and figure views, `?range=` variants.
In process; the workspace is only read.

    /work/main/.venv/bin/python bench/dashboard_routes.py /tmp/scale1000 /tmp/main.json
    .venv/bin/python bench/dashboard_routes.py /tmp/scale1000 /tmp/branch.json
    cmp /tmp/main.json /tmp/branch.json
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from perfops.web.app import create_app


def main() -> None:
    ws, out = Path(sys.argv[1]), Path(sys.argv[2])
    form_key = re.compile(rb'name="idempotency_key" value="[0-9a-f]+"')
    app = create_app(ws, token="t")
    c = TestClient(app, base_url="http://127.0.0.1")
    findings = c.get("/api/findings?status=all").json()
    dom = c.get("/api/domain").json()
    services = [s["name"] for s in dom["services"]]
    squads = [s["name"] for s in dom["squads"]]
    with_findings = sorted({f["service"] for f in findings})
    sample = sorted(set(services[::10]) | set(with_findings[::5]))
    paths = ["/", "/services", "/findings", "/findings?status=all", "/api/domain", "/api/findings", "/api/runs",
             "/slo", "/capacity", "/cost", "/maturity", "/tests", "/api/figures/slo", "/api/figures/capacity",
             "/api/figures/cost", "/api/figures/maturity", "/api/figures/tests", "/?range=7d", "/services?range=28d"]
    for sq in squads:
        paths += [f"/squads/{quote(sq)}", f"/api/squads/{quote(sq)}", f"/findings?squad={quote(sq)}"]
    for s in sample:
        paths += [f"/services/{quote(s)}", f"/api/services/{quote(s)}", f"/services/{quote(s)}?range=7d"]
    eps = [(f["service"], f["endpoint"]) for f in findings if f.get("endpoint")][::20]
    for s, e in eps:
        paths.append(f"/services/{quote(s)}/endpoint?name={quote(e)}")
    for f in findings[::50]:
        paths.append(f"/findings/{f['id']}")
    res = {}
    for p in paths:
        r = c.get(p)
        res[p] = [r.status_code, hashlib.sha256(form_key.sub(b"", r.content)).hexdigest()]
    out.write_text(json.dumps(res, indent=0, sort_keys=True))
    print(len(res), "paths", sum(1 for v in res.values() if v[0] != 200), "not 200")


if __name__ == "__main__":
    main()
