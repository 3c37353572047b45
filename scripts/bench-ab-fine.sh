#!/bin/bash
# A/B timing of two svaemu_bench binaries, interleaved per benchmark.
#
#   scripts/bench-ab-fine.sh BINARY_A BINARY_B ROUNDS BENCHMARK...
#
# For each BENCHMARK (an exact name), runs A then B, ROUNDS times, three
# repetitions each, and prints the minimum, the first quartile and the
# median real time of each binary over all its repetitions. Interleaving
# at this grain (seconds, not minutes) puts both binaries through the same
# bursts of a noisy shared host, which scripts/bench-ab.sh (whole runs,
# one binary after the other) does not.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 BINARY_A BINARY_B ROUNDS BENCHMARK..." >&2
  exit 2
fi
a=$1
b=$2
rounds=$3
shift 3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for bm in "$@"; do
  : >"$dir/a"
  : >"$dir/b"
  for _ in $(seq "$rounds"); do
    for side in a b; do
      bin=$a
      [[ $side == b ]] && bin=$b
      "$bin" --benchmark_filter="^$bm\$" --benchmark_repetitions=3 \
          --benchmark_min_time=0.1 --benchmark_format=json 2>/dev/null |
        python3 -c '
import json, sys
for r in json.load(sys.stdin)["benchmarks"]:
    if r.get("run_type") == "iteration":
        print(r["real_time"])' >>"$dir/$side"
    done
  done
  for side in a b; do
    bin=$a
    [[ $side == b ]] && bin=$b
    python3 -c '
import sys
t = sorted(float(x) for x in open(sys.argv[1]))
print("%-42s min %6.2f  p25 %6.2f  median %6.2f  %s"
      % (sys.argv[2], t[0], t[len(t) // 4], t[len(t) // 2], sys.argv[3]))' \
        "$dir/$side" "$bm" "$bin"
  done
done
