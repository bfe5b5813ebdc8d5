"""Change-point bench: perfops vs apache-otava vs ruptures on series with 3 injected level shifts.

For each length (100, 1,000 points) it draws `--trials` series of Gaussian noise (sd 1) with
3 level shifts at random positions (at least 10% of the length apart, shifts of 2-4 sd,
random sign), runs every detector on the same series, and reports precision/recall/F1
(a detected change within max(2, 1% of n) rows of a true one is a hit, each true change
matched once) and points scored per second.

    .venv/bin/python bench/changepoint.py [--trials 30] [--seed 7]

Needs `pip install -r bench/requirements.txt` for the peers (a peer that is missing is skipped).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from perfops.analysis.changepoint import find_change_points


def make_series(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    gap = max(5, n // 10)
    while True:
        cps = sorted(rng.choice(np.arange(gap, n - gap), size=3, replace=False).tolist())
        if min(np.diff([0, *cps, n])) >= gap:
            break
    level = np.zeros(n)
    current = 0.0
    for cp in cps:
        current += rng.choice([-1, 1]) * rng.uniform(2.0, 4.0)
        level[cp:] = current
    return level + rng.normal(0.0, 1.0, n), cps


def f1(found: list[int], truth: list[int], tol: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) with one-to-one matching."""
    unmatched = list(truth)
    tp = 0
    for f in sorted(found):
        near = [t for t in unmatched if abs(t - f) <= tol]
        if near:
            unmatched.remove(min(near, key=lambda t: abs(t - f)))
            tp += 1
    return tp, len(found) - tp, len(unmatched)


def detect_perfops(x: np.ndarray) -> list[int]:
    return [cp.index for cp in find_change_points(x, alpha=0.001, min_size=5)]


def detect_otava(x: np.ndarray) -> list[int]:
    from otava.analysis import compute_change_points

    cps, _ = compute_change_points(x.tolist(), window_len=50, max_pvalue=0.001)
    return [int(cp.index) for cp in cps]


def detect_ruptures(x: np.ndarray) -> list[int]:
    import ruptures as rpt

    pen = 2.0 * np.log(x.size) * float(np.var(np.diff(x)) / 2.0) * 1.5
    return [int(i) for i in rpt.Pelt(model="l2", min_size=5, jump=1).fit(x).predict(pen=pen)[:-1]]


DETECTORS = {"perfops": detect_perfops, "apache-otava 0.8": detect_otava, "ruptures PELT (l2, BIC-like)": detect_ruptures}


def run(trials: int, seed: int) -> list[dict]:
    rows = []
    for n in (100, 1000):
        rng = np.random.default_rng(seed)
        data = [make_series(n, rng) for _ in range(trials)]
        tol = max(2, n // 100)
        for name, fn in DETECTORS.items():
            try:
                fn(data[0][0])
            except ImportError:
                print(f"skipping {name}: not installed")
                continue
            tp = fp = fn_ = 0
            start, cpu0 = time.perf_counter(), time.process_time()
            for x, truth in data:
                a, b, c = f1(fn(x), truth, tol)
                tp, fp, fn_ = tp + a, fp + b, fn_ + c
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
            prec = tp / max(tp + fp, 1)
            rec = tp / max(tp + fn_, 1)
            rows.append({"n": n, "detector": name, "precision": prec, "recall": rec,
                         "f1": 2 * prec * rec / max(prec + rec, 1e-12),
                         "points_per_s": n * trials / elapsed, "points_per_cpu_s": n * trials / cpu})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rows = run(args.trials, args.seed)
    print("| n | detector | precision | recall | F1 | points/s (wall) | points/CPU s |\n|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['detector']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} "
              f"| {r['points_per_s']:,.0f} | {r['points_per_cpu_s']:,.0f} |")
    by = {(r["n"], r["detector"]): r for r in rows}
    for n in (100, 1000):
        ours, peer = by.get((n, "perfops")), by.get((n, "apache-otava 0.8"))
        if ours and peer:
            print(f"n={n}: speed ratio perfops/otava = {ours['points_per_cpu_s'] / peer['points_per_cpu_s']:.1f}x (CPU), "
                  f"F1 {ours['f1']:.2f} vs {peer['f1']:.2f}")


if __name__ == "__main__":
    main()
