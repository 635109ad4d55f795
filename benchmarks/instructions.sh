#!/usr/bin/env bash
# Instructions per checkout+release (valgrind's callgrind counts instructions, not time: repeatable on
# a noisy machine). Each variant runs twice, with 0 and N checkouts after the same warm-up; the
# difference divided by N is the cost of one checkout+release. About 3 minutes.
# Run: npm run build && bash benchmarks/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node benchmarks/instructions-loop.mjs "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
declare -A per
for v in bare off connect; do
  a=$(count "$v" 0); b=$(count "$v" "$n")
  per[$v]=$(( (b - a) / n ))
  echo "$v: ${per[$v]} instructions per checkout+release"
done
awk -v b="${per[bare]}" -v o="${per[off]}" -v c="${per[connect]}" 'BEGIN {
  printf "ratio to bare: stacks off %.2fx, defaults (stack per connect) %.2fx\n", b / o, b / c }'
