"""Coverage-guided fuzzing (atheris, libFuzzer) of one perfops reader.

    .venv/bin/python fuzz/fuzz_reader.py READER OUT_DIR [libFuzzer flags...] CORPUS_DIR [SEED_DIR...]

Each input is written to a file named as the reader expects (fuzz/properties.FILE_NAMES) and
read with `--service checkout-api`; a third of the inputs (picked by their CRC, so a run is
reproducible) also go through a hostile mutation from fuzz/properties.py first (the
structure-aware part: truncation, re-encoding, CRLF, enormous lines, NaN/inf, ...). The property is fuzz/properties.read_checked:
a batch in the canonical schema that the store accepts, or a PerfopsError naming the file.

A violation does not stop the run (so one bug does not hide the next): its signature (exception
type and the innermost perfops frame) is logged once to OUT_DIR/findings.jsonl with the input
saved beside it. OUT_DIR/stats.json says how many inputs were tried, refused and loaded; it is
rewritten every few seconds, since libFuzzer ends the process without running Python's atexit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

with atheris.instrument_imports(include=["perfops"]):
    import perfops.ingest.registry as registry
    from perfops.ingest.base import IngestOptions

    READERS = registry.readers()  # imports every format module, instrumented

import properties as P  # noqa: E402

from perfops.store import open_store  # noqa: E402

MUTATION_NAMES = sorted(P.MUTATIONS)
MEMORY_BOMBS = {"telemetry"}  # readers known to blow up on a huge first line (header)
MAX_FIRST_LINE = 256 * 1024


class Run:
    def __init__(self, reader: str, out: Path) -> None:
        self.reader = READERS[reader]
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"fuzz-{reader}-"))
        self.path = self.tmp / P.FILE_NAMES[reader]
        self.options = IngestOptions(catalog=P.load_catalog(), service="checkout-api")
        self.store = open_store(None)
        self.counts = {"inputs": 0, "loaded": 0, "refused": 0, "violations": 0}
        self.signatures: dict[str, int] = {}
        self.started = time.monotonic()
        self.last_write = 0.0

    def one(self, data: bytes) -> None:
        crc = zlib.crc32(data)
        if crc % 3 == 0:  # a third of the inputs (chosen by their hash): plus a hostile mutation
            data = P.mutate(data, [MUTATION_NAMES[(crc // 3) % len(MUTATION_NAMES)]], crc)
        self.path.write_bytes(data)
        self.counts["inputs"] += 1
        first_line = len(data.split(b"\n", 1)[0])
        if self.reader.name in MEMORY_BOMBS and first_line > MAX_FIRST_LINE:
            # known: a first line of ~1 MB costs the telemetry reader gigabytes (docs/reliability.md);
            # counted, not read, so libFuzzer's memory limit does not end the run
            self.record(MemoryError(f"known memory bomb: a first line of {first_line} bytes"), data)
            return
        try:
            outcome = P.read_checked(self.reader, self.path, self.options, self.store)
            self.counts[outcome.status] += 1
        except Exception as exc:  # noqa: BLE001 - a Violation or any unexpected exception
            self.record(exc, data)
        if time.monotonic() - self.last_write > 5:
            self.write_stats()

    def record(self, exc: BaseException, data: bytes) -> None:
        self.counts["violations"] += 1
        cause = exc.__cause__ if isinstance(exc, P.Violation) and exc.__cause__ else exc
        frames = [f for f in traceback.extract_tb(cause.__traceback__) if "/perfops/" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        if isinstance(cause, P.Violation):  # a broken schema: the field it concerns
            where = str(cause).split(":", 1)[0]
        signature = f"{type(exc).__name__}/{type(cause).__name__} at {where}"
        self.signatures[signature] = self.signatures.get(signature, 0) + 1
        if self.signatures[signature] > 1:
            return
        name = "crash-" + hashlib.sha1(signature.encode()).hexdigest()[:10]
        (self.out / name).write_bytes(data)
        entry = {"reader": self.reader.name, "signature": signature, "input": name,
                 "message": str(exc)[:500], "traceback": traceback.format_exception(cause)[-6:]}
        with open(self.out / "findings.jsonl", "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.write_stats()

    def write_stats(self) -> None:
        self.last_write = time.monotonic()
        stats = {"reader": self.reader.name, **self.counts, "seconds": round(self.last_write - self.started, 1),
                 "signatures": self.signatures}
        tmp = self.out / "stats.json.tmp"
        tmp.write_text(json.dumps(stats, indent=1))
        os.replace(tmp, self.out / "stats.json")


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in READERS:
        sys.exit(f"usage: fuzz_reader.py READER OUT_DIR [libFuzzer args]; READER one of {', '.join(READERS)}")
    run = Run(sys.argv[1], Path(sys.argv[2]))
    import warnings

    warnings.simplefilter("ignore")
    atheris.Setup([sys.argv[0], *sys.argv[3:]], run.one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
