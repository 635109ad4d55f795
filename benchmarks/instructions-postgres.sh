#!/usr/bin/env bash
# Instructions per operation for postgres.js, bare and guarded (valgrind's callgrind counts
# instructions, not time: the same on a busy machine; see instructions.sh for the method): the
# pool's own sql`select 1`, one at a time, and reserve() + release() on a warm pool. Two variants at
# a time (one per core). About 8 minutes.
# Run: npm run build && bash benchmarks/instructions-postgres.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable benchmarks/instructions-postgres-loop.mjs "$1" "$2" "$3" 2>&1 | awk '/Collected/ {print $4}'; }
per() { local a b; a=$(count "$1" "$2" "$n"); b=$(count "$1" "$2" $((4 * n))); echo $(( (b - a) / (3 * n) )) > "$tmp/$1-$2"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for op in query reserve; do
  per bare "$op" & per defaults "$op" & wait
  per off "$op" & per bounded "$op" & wait
  b=$(cat "$tmp/bare-$op")
  echo "$op: bare postgres.js $b instructions"
  for v in defaults off bounded; do
    awk -v v="$v" -v b="$b" -v x="$(cat "$tmp/$v-$op")" 'BEGIN { printf "  poolguard, %s: %d (%.3fx of bare)\n", v, x, b / x }'
  done
done
