"""Forecast backtest: perfops' vectorised forecaster against seasonal naive and Prophet
(or statsmodels Holt-Winters) on the same series, in the same run.

Series: NAB realTraffic, realAWSCloudwatch (request counts and CPU), realKnownCause
(../shared/data/nab) and synthetic demo-like traffic/CPU series (5-minute, daily + weekly
seasonality, trend, noise, a few spikes).

Protocol per series: regularise to its median step; hold back the last week (series of at least
four weeks) or the last day (shorter ones); train on at most the 28 days before. Report MASE
(scale: in-sample seasonal naive with the same season as the baseline: a week if the training
part spans two weeks, else a day), the coverage of the 90% prediction interval, and the time per
series. Run: `.venv/bin/python bench/forecast.py [--peer prophet|holtwinters|both] [--quick]`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.analysis.forecast import forecast, mase

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab" / "data"
NAB_FILES = {
    "realTraffic": "*.csv",
    "realAWSCloudwatch": "*[ce][pl][ub]_*.csv",  # ec2/rds cpu_utilization and elb_request_count
    "realKnownCause": "*.csv",
}
DAY, WEEK = pd.Timedelta("1D"), pd.Timedelta("7D")


def nab_series() -> list[tuple[str, pd.Series]]:
    out = []
    for folder, pattern in NAB_FILES.items():
        for path in sorted((NAB / folder).glob(pattern)):
            if folder == "realAWSCloudwatch" and not ("cpu" in path.name or "request" in path.name):
                continue
            frame = pd.read_csv(path, parse_dates=["timestamp"])
            s = frame.set_index("timestamp")["value"].sort_index()
            step = s.index.to_series().diff().median().round("1min")
            s = s.resample(step).mean().interpolate(limit_direction="both")
            out.append((f"{folder}/{path.stem}", s))
    return out


def synthetic_series(count: int, seed: int = 42) -> list[tuple[str, pd.Series]]:
    """Demo-like 5-minute traffic and CPU: daily and weekly profile, growth, noise, spikes."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-01-05", periods=35 * 288, freq="5min")
    hours = np.arange(len(idx)) / 12.0
    out = []
    for i in range(count):
        base = rng.uniform(20, 400)
        daily = 0.55 + 0.45 * np.clip(np.sin(2 * np.pi * (hours % 24 - 6) / 24), 0, None) ** 1.5
        weekend = np.where((hours // 24) % 7 >= 5, rng.uniform(0.5, 0.9), 1.0)
        growth = (1 + rng.uniform(-0.01, 0.04)) ** (hours / 168)
        level = base * daily * weekend * growth
        noise = rng.normal(0, rng.uniform(0.03, 0.1), len(idx)) * level
        y = level + noise
        spikes = rng.choice(len(idx), 3, replace=False)
        y[spikes] *= rng.uniform(2, 4, 3)
        if i % 2:  # CPU-like: percentage that follows traffic
            y = np.clip(5 + 60 * y / y.max(), 0, 100)
        out.append((f"synthetic/{'cpu' if i % 2 else 'traffic'}-{i:02d}", pd.Series(y, index=idx)))
    return out


def split(s: pd.Series) -> tuple[pd.Series, pd.Series, int]:
    span = s.index[-1] - s.index[0]
    horizon = WEEK if span >= 4 * WEEK else DAY
    cut = s.index[-1] - horizon
    train = s[(s.index > cut - 4 * WEEK) & (s.index <= cut)]
    test = s[s.index > cut]
    step = s.index[1] - s.index[0]
    season = int((WEEK if train.index[-1] - train.index[0] >= 2 * WEEK else DAY) / step)
    return train, test, season


def run_ours(train: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = forecast(train.to_numpy()[None], train.index.to_numpy(), test.index.to_numpy())
    return f.mean[0], f.lower[0], f.upper[0]


def run_snaive(train: pd.Series, test: pd.Series, season: int) -> np.ndarray:
    last = train.to_numpy()[-season:]
    return np.resize(last, len(test))


def run_prophet(train: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from prophet import Prophet

    model = Prophet(daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=False, interval_width=0.9)
    model.fit(pd.DataFrame({"ds": train.index, "y": train.to_numpy()}))
    pred = model.predict(pd.DataFrame({"ds": test.index}))
    return pred["yhat"].to_numpy(), pred["yhat_lower"].to_numpy(), pred["yhat_upper"].to_numpy()


def run_holtwinters(train: pd.Series, test: pd.Series, season: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(train.to_numpy(), trend="add", damped_trend=True, seasonal="add",
                                 seasonal_periods=season, initialization_method="estimated").fit()
    return model.forecast(len(test))


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    return float(np.mean((actual >= lo) & (actual <= hi)))


def evaluate(name: str, s: pd.Series, peers: list[str]) -> dict[str, float | str]:
    train, test, season = split(s)
    actual = test.to_numpy()
    row: dict[str, float | str] = {"series": name, "train_points": len(train), "horizon_points": len(test)}
    t0 = time.perf_counter()
    mean, lo, hi = run_ours(train, test)
    row["ours_s"] = time.perf_counter() - t0
    row["ours_mase"] = mase(actual, mean, train.to_numpy(), season)
    row["ours_cov"] = coverage(actual, lo, hi)
    row["snaive_mase"] = mase(actual, run_snaive(train, test, season), train.to_numpy(), season)
    if "prophet" in peers:
        t0 = time.perf_counter()
        mean, lo, hi = run_prophet(train, test)
        row["prophet_s"] = time.perf_counter() - t0
        row["prophet_mase"] = mase(actual, mean, train.to_numpy(), season)
        row["prophet_cov"] = coverage(actual, lo, hi)
    if "holtwinters" in peers:
        t0 = time.perf_counter()
        try:
            pred = run_holtwinters(train, test, int(DAY / (s.index[1] - s.index[0])))
        except Exception:
            pred = np.full(len(test), np.nan)
        row["hw_s"] = time.perf_counter() - t0
        row["hw_mase"] = mase(actual, pred, train.to_numpy(), season)
    return row


def summarise(table: pd.DataFrame) -> str:
    lines = []
    groups = {"all": table, **{g: table[table.series.str.startswith(g)] for g in
                               ("realTraffic", "realAWSCloudwatch", "realKnownCause", "synthetic")}}
    cols = [c for c in table.columns if c.endswith(("_mase", "_cov", "_s"))]
    lines.append("| group | n | " + " | ".join(f"median {c}" for c in cols) + " |")
    lines.append("|---|---:|" + "---:|" * len(cols))
    for g, part in groups.items():
        if len(part):
            vals = " | ".join(f"{part[c].median():.4g}" for c in cols)
            lines.append(f"| {g} | {len(part)} | {vals} |")
    if "prophet_mase" in table:
        ratio = table.prophet_s.sum() / table.ours_s.sum()
        wins = (table.ours_mase <= table.prophet_mase).mean()
        lines.append("")
        lines.append(f"mean MASE ours {table.ours_mase.mean():.3f} vs Prophet {table.prophet_mase.mean():.3f}; "
                     f"ours <= Prophet on {wins:.0%} of series; total time ratio Prophet/ours {ratio:.0f}x")
        lines.append(f"interval coverage (nominal 90%): ours {table.ours_cov.mean():.3f}, Prophet {table.prophet_cov.mean():.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=["prophet", "holtwinters", "both", "none"], default="prophet")
    parser.add_argument("--synthetic", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="five NAB series only")
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args(argv)
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    peers = {"both": ["prophet", "holtwinters"], "none": []}.get(args.peer, [args.peer])
    series = (nab_series() if NAB.is_dir() else []) + synthetic_series(args.synthetic)
    if args.quick:
        series = series[:5] + series[-2:]
    rows = [evaluate(name, s, peers) for name, s in series]
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print()
    print(summarise(table))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
