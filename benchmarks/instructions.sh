#!/usr/bin/env bash
# Instructions per checkout+release (valgrind's callgrind counts instructions, not time: the same
# on a busy machine). Each variant runs twice after the same warm-up, with N and 4N checkouts; the
# difference divided by 3N is the cost of one checkout+release, compilation and start-up cancelling
# out. node runs with --predictable (one thread): with V8's background compiler and GC threads the
# count depends on scheduling, and the same build measured 34,602 and 45,169 for stacks off in two
# runs. Two variants at a time (one per core). About 6 minutes.
# Run: npm run build && bash benchmarks/instructions.sh [N] [pg|mysql2]
# (mysql2: getConnection + release on a warm mysql2 pool, benchmarks/instructions-mysql2-loop.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
driver=${2:-pg}
case "$driver" in
  pg) loop=benchmarks/instructions-loop.mjs; name='bare pg.Pool' ;;
  mysql2) loop=benchmarks/instructions-mysql2-loop.mjs; name='bare mysql2' ;;
  *) echo "instructions.sh: the second argument must be pg or mysql2, got $driver" >&2; exit 2 ;;
esac
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable "$loop" "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
per() { local a b; a=$(count "$1" "$n"); b=$(count "$1" $((4 * n))); echo $(( (b - a) / (3 * n) )) > "$tmp/$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
per bare & per bound & wait
per off & per connect & wait
if [ "$driver" = mysql2 ]; then per adaptive & per site & wait; else per adaptive; fi
b=$(cat "$tmp/bare") u=$(cat "$tmp/bound") o=$(cat "$tmp/off") c=$(cat "$tmp/connect")
echo "$name: $b instructions per checkout+release"
echo "bare + one stack capture in a connect standing where poolguard's does (the bound): $u"
echo "poolguard, stacks off: $o"
echo "poolguard, captureStacks 'connect' (a stack per connect): $c"
echo "poolguard, defaults (captureStacks 'adaptive', past its first 1,000 checkouts: 1 in 64 while no lease without a stack is held long): $(cat "$tmp/adaptive")"
if [ "$driver" = mysql2 ]; then
  s=$(cat "$tmp/site")
  echo "bare + one stack capture at the getConnection call (inside the promise executor): $s"
  awk -v b="$b" -v s="$s" -v c="$c" 'BEGIN { printf "captureStacks connect: %.0f %% of the bound at the call site %.2fx\n", 100 * (b / c) / (b / s), b / s }'
fi
a=$(cat "$tmp/adaptive")
awk -v b="$b" -v u="$u" -v o="$o" -v c="$c" -v a="$a" 'BEGIN {
  printf "ratio to bare: stacks off %.2fx (target >= 0.8x); captureStacks connect %.2fx = %.0f %% of the bound %.2fx (target >= 85 %%); defaults %.2fx\n", b / o, b / c, 100 * (b / c) / (b / u), b / u, b / a }'
