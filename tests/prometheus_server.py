"""A REAL Prometheus server on 127.0.0.1 holding known data, for collect's integration tests.

The data is written as OpenMetrics text, turned into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`, and served by `prometheus` from a temporary
data folder (no scraping: the config is empty). Needs Debian's `prometheus` package
(`apt-get install -y prometheus`); without the binaries the tests skip with that reason.

Use as a context manager, or through the `prometheus_with` fixture factory in the tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

INSTALL_HINT = "Prometheus is not installed: apt-get update && apt-get install -y prometheus"


@dataclass(frozen=True)
class Series:
    """One series to write: its metric name, labels, and (epoch seconds, value) samples."""

    name: str
    labels: dict[str, str]
    samples: Sequence[tuple[int, float]]


def binaries() -> tuple[str, str] | None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    return (prometheus, promtool) if prometheus and promtool else None


def write_openmetrics(series: Iterable[Series], path: Path) -> None:
    """OpenMetrics text: one gauge family per name, samples with timestamps, then `# EOF`."""
    by_name: dict[str, list[Series]] = {}
    for item in series:
        by_name.setdefault(item.name, []).append(item)
    with path.open("w") as out:
        for name, members in by_name.items():
            out.write(f"# TYPE {name} gauge\n")
            for item in members:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(item.labels.items()))
                head = f"{name}{{{labels}}}" if labels else name
                out.writelines(f"{head} {value!r} {ts}\n" for ts, value in item.samples)
        out.write("# EOF\n")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusServer:
    """Start Prometheus over blocks made from `openmetrics_file`; stop it (by its pid) on exit."""

    def __init__(self, openmetrics_file: Path | Sequence[Path], workdir: Path | None = None) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError(INSTALL_HINT)
        self.prometheus, self.promtool = found
        # promtool re-reads a file for every 2-hour block: big ranges go faster as one file a day
        self.files = [openmetrics_file] if isinstance(openmetrics_file, Path) else list(openmetrics_file)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="perfops-prom-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        for source in self.files:
            subprocess.run([self.promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
                           check=True, capture_output=True, timeout=1800)
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        self.log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [self.prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=100y",
             "--query.max-samples=200000000", "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "GOMAXPROCS": "2"},
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.workdir / 'prometheus.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
