"""Would the streaming detector help `perfops analyze` on real data? An offline what-if.

Reads a folder that `bench/real_domain.py` built and analysed (its telemetry.csv, truth.json and
stored findings), scores every written series with `perfops.analysis.detector.score_series`
(causal, over the whole series on its own step grid) and re-scores the findings as two readings
of "the detector as evidence" would change them, with real_domain's own scorer:

- lift: a `low` incident finding (not capped as a pattern) whose series the detector scores at
  or above the threshold within the finding's span becomes medium;
- raise: every detector alarm at or above the threshold, at least 7 days into its series and in
  an analysed week, that no medium+ finding of its service covers becomes a medium anomaly.

    .venv/bin/python bench/detector_evidence.py /tmp/realdom [--thresholds 0.8 0.85]

docs/bench/real_domain.md ("branch detrec") has the figures; neither reading was kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_domain as rd

from perfops.analysis.detector import score_series

TELEMETRY = {"cpu": "cpu_pct", "traffic": "requests", "latency": "latency_p95_ms", "memory": "memory_pct"}


def series_scores(folder: Path) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(service, metric) -> (times on the series' own step grid, detector scores)."""
    tel = pd.read_csv(folder / "telemetry.csv", parse_dates=["timestamp"])
    tel["timestamp"] = tel["timestamp"].dt.tz_localize(None)
    out = {}
    for (service, metric), rows in tel.groupby(["service", "metric"]):
        rows = rows.sort_values("timestamp")
        step = float(np.median(np.diff(rows["timestamp"].to_numpy()).astype("timedelta64[s]").astype(float)))
        grid = pd.date_range(rows["timestamp"].min(), rows["timestamp"].max(), freq=f"{int(step)}s")
        values = rows.set_index("timestamp")["value"].reindex(grid).to_numpy()
        out[(service, metric)] = (grid.to_numpy(), score_series(values, step))
    return out


def highest(scores, service: str, role: str, span: tuple[pd.Timestamp, pd.Timestamp]) -> float | None:
    key = (service, TELEMETRY.get(role, role))
    if key not in scores:
        return None
    times, values = scores[key]
    inside = (times >= span[0].to_datetime64()) & (times <= span[1].to_datetime64())
    return float(values[inside].max()) if inside.any() else 0.0


def lifted(findings: list[dict], scores, threshold: float) -> list[dict]:
    out = []
    for f in findings:
        rule = str((f.get("evidence") or {}).get("severity_inputs", {}).get("rule", ""))
        if f["kind"] in rd.NOT_INCIDENT or f["severity"] != "low" or "pattern" in rule:
            out.append(f)
            continue
        score = highest(scores, f["service"], f["metric"], rd.span_of(f))
        out.append({**f, "severity": "medium"} if score is not None and score >= threshold else f)
    return out


def raised(findings: list[dict], scores, truth: dict, threshold: float) -> list[dict]:
    serious = rd.incidents(findings)
    first_week = rd.week_ends(truth)[0] - rd.WEEK
    added: list[dict] = []
    for (service, metric), (times, values) in scores.items():
        for i in np.flatnonzero(values >= threshold):
            at = pd.Timestamp(times[i])
            if at - pd.Timestamp(times[0]) < rd.WEEK or at < first_week:
                continue
            if any(f["service"] == service and rd.overlaps(rd.span_of(f), (at, at)) for f in serious + added):
                continue
            added.append({"id": f"detector-{len(added)}", "service": service, "metric": metric, "kind": "anomaly",
                          "severity": "medium", "start": str(at), "end": str(at + pd.Timedelta(minutes=5)),
                          "title": f"detector score {values[i]:.2f}"})
    return findings + added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder built and analysed by bench/real_domain.py")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.85])
    args = parser.parse_args()
    truth = json.loads((args.folder / "truth.json").read_text())
    findings = rd.findings_of(args.folder)
    scores = series_scores(args.folder)
    base = rd.score(truth, findings)
    print(f"{truth.get('mapping')}: as analysed, windows {base['found']}/{base['scored_windows']}, "
          f"false {base['false_positives']}/{base['series_weeks']}")
    for threshold in args.thresholds:
        for name, variant in (("lift", lifted(findings, scores, threshold)),
                              ("raise", raised(findings, scores, truth, threshold))):
            r = rd.score(truth, variant)
            print(f"  {name} at {threshold}: windows {r['found']}/{r['scored_windows']}, "
                  f"false {r['false_positives']}/{r['series_weeks']} = {r['fp_per_series_week']}")


if __name__ == "__main__":
    main()
