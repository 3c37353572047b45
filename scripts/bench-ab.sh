#!/bin/bash
# A/B timing of two (or more) svaemu_bench binaries on a noisy machine.
#
#   scripts/bench-ab.sh FILTER BINARY...
#
# Runs each binary twice, interleaved (A B A B), with 8 repetitions of
# every benchmark matching FILTER, and prints the minimum and the median
# real time of each benchmark per run. Compare minima first: on a shared
# 2-core VM they move least between runs.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 FILTER BINARY..." >&2
  exit 2
fi
filter=$1
shift
for round in 1 2; do
  for bin in "$@"; do
    "$bin" --benchmark_filter="$filter" --benchmark_repetitions=8 \
        --benchmark_min_time=0.2 --benchmark_format=json 2>/dev/null |
      python3 -c '
import collections, json, sys
times = collections.defaultdict(list)
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("run_type") == "iteration":
        times[b["name"]].append(b["real_time"])
for name, t in times.items():
    t.sort()
    print("%-45s min %7.1f  median %7.1f  %s" % (name, t[0], t[len(t) // 2], sys.argv[1]))
' "$bin"
  done
done
