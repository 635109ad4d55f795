#!/usr/bin/env bash
# Instructions per transaction (connect, BEGIN, four statements, COMMIT, release; one at a time),
# the method of instructions.sh: two runs per variant after the same warm-up, N and 3N
# transactions, the difference divided by 2N.
# Run: npm run build && bash benchmarks/instructions-tx.sh [N] [variants...]   (variants: bare off defaults connect;
# ROUTE=query counts one pool.query() per iteration instead, the read path; DRIVER=mysql2 the same
# over mysql2/promise and MariaDB)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
shift || true
vs=${*:-bare off defaults connect}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable benchmarks/instructions-tx-loop.mjs "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
for v in $vs; do
  a=$(count "$v" "$n"); b=$(count "$v" $((3 * n)))
  echo "$v: $(( (b - a) / (2 * n) )) instructions per ${ROUTE:-transaction}"
done
