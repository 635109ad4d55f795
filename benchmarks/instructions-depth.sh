#!/usr/bin/env bash
# Instructions per checkout+release at a data layer's call depth, by stack depth (callgrind, as
# instructions.sh: two runs, N and 4N checkouts, the difference over 3N). Prints one line per
# variant. OLD=path/to/dist/esm/pg.js adds that build's default as the variant "old-default".
# Run: npm run build && bash benchmarks/instructions-depth.sh [N] [variants…]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
shift || true
variants=${*:-bare none 10 20 30 50}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable benchmarks/instructions-depth-loop.mjs "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
per() {
  local a b
  a=$(count "$1" "$n"); b=$(count "$1" $((4 * n)))
  echo "$2: $(( (b - a) / (3 * n) )) instructions per checkout+release"
}
for v in $variants; do per "$v" "$v"; done
if [ -n "${OLD:-}" ]; then POOLGUARD_PG=$OLD per default old-default; fi
