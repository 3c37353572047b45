#!/bin/bash
# Instructions per call of one function on one benchmark (callgrind).
#
#   scripts/bench-instructions.sh BINARY BENCHMARK FUNCTION
#
# e.g. scripts/bench-instructions.sh build/bench/svaemu_bench \
#        BM_VtdTranslatePdeCacheHit Vtd::TranslateMiss
# Prints the calls, the instructions per call (inclusive) and callgrind's
# simulated conditional-branch mispredictions per call (a hint only: its
# predictor is far simpler than a real core's). Needs valgrind.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 BINARY BENCHMARK FUNCTION" >&2
  exit 2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --branch-sim=yes --callgrind-out-file="$out" "$1" \
    --benchmark_filter="^$2\$" --benchmark_min_time=0.05 >/dev/null 2>&1
python3 - "$out" "$3" <<'PY'
import re, sys
path, func = sys.argv[1], sys.argv[2]
lines = open(path).read().split("\n")
events = next(l for l in lines if l.startswith("events:")).split()[1:]
names, callee, calls, grab = {}, None, 0, False
total = dict.fromkeys(("Ir", "Bcm"), 0)
for line in lines:
    m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        callee = names.get(m.group(2), "") if m.group(1) == "c" else None
        continue
    if line.startswith("calls=") and callee and func in callee:
        calls += int(line[6:].split()[0])
        grab = True
        continue
    if grab:  # the cost line of that call: position, then events
        values = line.split()[1:]
        for e in total:
            i = events.index(e)
            if i < len(values):
                total[e] += int(values[i])
        grab = False
n = max(calls, 1)
print("calls %d  instructions/call %.1f  mispredicted/call %.3f"
      % (calls, total["Ir"] / n, total["Bcm"] / n))
PY
