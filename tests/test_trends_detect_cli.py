"""`perfops detect`: the contract's CSV in and out, and one-line errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from perfops.errors import InputError
from perfops.usecases.detect import detect_file, read_series


def write_series(path: Path, values, stamps=None) -> Path:
    stamps = stamps or [f"2026-01-01T{(i // 60) % 24:02d}:{i % 60:02d}:00Z" for i in range(len(values))]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows(zip(stamps, values, strict=True))
    return path


def test_output_has_one_row_per_input_row_in_order(tmp_path):
    values = list(50 + np.random.default_rng(0).normal(size=500))
    values[400] = 90
    src = write_series(tmp_path / "s.csv", values)
    out = tmp_path / "out" / "scores.csv"
    assert detect_file(src, out) == 500
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["timestamp"] for r in rows] == [r["timestamp"] for r in csv.DictReader(src.read_text().splitlines())]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert np.all((scores >= 0) & (scores <= 1)) and int(np.argmax(scores)) == 400


def test_epoch_timestamps_and_missing_values(tmp_path):
    src = write_series(tmp_path / "s.csv", ["1", "", "3"] * 10, [str(1_700_000_000 + 60 * i) for i in range(30)])
    series = read_series(src)
    assert series.step_seconds == 60 and np.isnan(series.values[1])


def test_bad_value_names_file_and_line(tmp_path):
    src = write_series(tmp_path / "s.csv", ["1", "2", "oops"])
    with pytest.raises(InputError) as err:
        detect_file(src, tmp_path / "o.csv")
    assert f"{src}:4: value: 'oops' is not a number" in str(err.value)
    assert not (tmp_path / "o.csv").exists()


def test_missing_header(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="timestamp"):
        read_series(src)


def test_cli_command(tmp_path):
    from typer.testing import CliRunner

    from perfops.cli.app import app

    src = write_series(tmp_path / "s.csv", list(range(50)))
    result = CliRunner().invoke(app, ["detect", str(src), "--output", str(tmp_path / "o.csv"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.csv").read_text().startswith("timestamp,value,anomaly_score\n")


def test_console_script_turns_bad_input_into_one_line_and_exit_1(tmp_path):
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("perfops")
    if not exe.exists():
        pytest.skip("console script not installed")
    src = write_series(tmp_path / "s.csv", ["1", "x"])
    done = subprocess.run([str(exe), "detect", str(src)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "s.csv:3" in done.stderr
