#!/usr/bin/env bash
# Instructions per checkout+release (valgrind's callgrind counts instructions, not time: nearly
# the same on a busy machine; the JIT's background compiles move it by a few hundred). Each variant
# runs twice, with 0 and N checkouts after the same warm-up; the difference divided by N is the
# cost of one checkout+release. Two variants at a time (one per core). About 3 minutes.
# Run: npm run build && bash benchmarks/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node benchmarks/instructions-loop.mjs "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
per() { local a b; a=$(count "$1" 0); b=$(count "$1" "$n"); echo $(( (b - a) / n )) > "$tmp/$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
per bare & per bound & wait
per off & per connect & wait
b=$(cat "$tmp/bare") u=$(cat "$tmp/bound") o=$(cat "$tmp/off") c=$(cat "$tmp/connect")
echo "bare pg.Pool: $b instructions per checkout+release"
echo "bare + one stack capture (the bound): $u"
echo "poolguard, stacks off: $o"
echo "poolguard, defaults (a stack per connect): $c"
awk -v b="$b" -v u="$u" -v o="$o" -v c="$c" 'BEGIN {
  printf "ratio to bare: stacks off %.2fx (target >= 0.8x); defaults %.2fx = %.0f %% of the bound %.2fx (target >= 85 %%)\n", b / o, b / c, 100 * (b / c) / (b / u), b / u }'
