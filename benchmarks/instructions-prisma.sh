#!/usr/bin/env bash
# Instructions per Prisma interactive transaction, with and without guardPrisma, the method of
# instructions.sh: two runs per variant after the same warm-up, N and 3N transactions, the
# difference divided by 2N. A busy machine does not move these counts as it moves times.
# Run: npm run build && node benchmarks/prisma.mjs --smoke && bash benchmarks/instructions-prisma.sh [N] [variants...]
# (variants: shape-plain shape-guarded plain guarded; see instructions-prisma-loop.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
shift || true
vs=${*:-shape-plain shape-guarded plain guarded}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable benchmarks/instructions-prisma-loop.mjs "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
for v in $vs; do
  a=$(count "$v" "$n"); b=$(count "$v" $((3 * n)))
  echo "$v: $(( (b - a) / (2 * n) )) instructions per transaction"
done
