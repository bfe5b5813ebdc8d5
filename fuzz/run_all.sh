#!/usr/bin/env bash
# Fuzz every perfops reader with atheris for a bounded time, then print what each tried and found.
#
#   fuzz/run_all.sh [SECONDS_PER_READER] [READER...]     (default 90 s, every reader)
#   JOBS=2 fuzz/run_all.sh 60                            (two fuzzers at a time)
#
# Outputs go to fuzz/out/<reader>/: fuzz.log (libFuzzer), stats.json, findings.jsonl and the
# crash-* inputs; the grown corpus in fuzz/out/<reader>/corpus is reused by the next run.
# Seeds: fuzz/seeds/<reader>/ plus ../shared/samples/<folders> when present (PERFOPS_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_READER="${1:-90}"
shift || true
PY="${PY:-.venv/bin/python}"
JOBS="${JOBS:-1}"
SHARED="${PERFOPS_SHARED:-../shared}"
if [ "$#" -gt 0 ]; then READERS=("$@"); else
  mapfile -t READERS < <("$PY" -c "from perfops.ingest.registry import readers; print('\n'.join(readers()))")
fi

shared_dirs() {  # the shared sample folders of a reader, as corpus arguments
  [ -d "$SHARED/samples" ] || return 0
  "$PY" - "$1" "$SHARED" <<'PYEOF'
import sys
sys.path.insert(0, "fuzz")
from properties import SHARED_FOLDERS
from pathlib import Path
for folder in SHARED_FOLDERS.get(sys.argv[1], ()):
    path = Path(sys.argv[2]) / "samples" / folder
    if path.is_dir():
        print(path)
PYEOF
}

fuzz_one() {
  local reader="$1" out="fuzz/out/$1"
  mkdir -p "$out/corpus"
  rm -f "$out/stats.json" "$out/findings.jsonl" "$out"/crash-*
  mapfile -t extra < <(shared_dirs "$reader")
  # the hard timeout: the Python process can hang in native code at exit after libFuzzer is done
  timeout --signal=KILL "$((SECONDS_PER_READER + 120))" nice -n 19 "$PY" fuzz/fuzz_reader.py "$reader" "$out" \
    -max_total_time="$SECONDS_PER_READER" -timeout=60 -rss_limit_mb=6144 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "fuzz/seeds/$reader" "${extra[@]}" >"$out/fuzz.log" 2>&1 \
    || echo "$reader: the fuzzer stopped early (exit $?): see $out/fuzz.log" >&2
}

running=0
for reader in "${READERS[@]}"; do
  fuzz_one "$reader" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true
"$PY" fuzz/summary.py "${READERS[@]}"
