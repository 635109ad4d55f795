#!/usr/bin/env bash
# mysql's own pool tests (test/unit/pool/, against its in-process fake server), run unchanged against
# pools guarded by poolguard/mysql (the drop-in contract).
#
#   bash scripts/upstream/mysql-tests.sh MYSQL_GIT_DIR [plain|poolguard]
#
# MYSQL_GIT_DIR is a git directory of mysqljs/mysql (a bare clone works). The tests are taken from the
# tag of the mysql version in this repository's lockfile, into a temporary directory outside the
# repository; nothing of them is copied here. `plain` runs them against mysql itself (the baseline),
# `poolguard` (the default) with every pool the tests create guarded in place by this repository's
# built dist/ (guard(pool) from poolguard/mysql, through a preloaded module that wraps createPool).
# Needs a built dist/ (npm run build); no server (the tests start mysql's fake one).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
git_dir="${1:?usage: mysql-tests.sh MYSQL_GIT_DIR [plain|poolguard]}"
mode="${2:-poolguard}"
version="$(node -p "require('$repo/node_modules/mysql/package.json').version")"
work="$(mktemp -d "${TMPDIR:-/tmp}/mysql-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
git --git-dir="$git_dir" archive "v$version" index.js lib test package.json | tar -x -C "$work"
cd "$work"
# mysql's own dependencies and the devDependencies its test runner uses, as its package.json lists them.
npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
  $(node -p "const p = require('./package.json'); Object.entries({ ...p.dependencies, ...p.devDependencies }).filter(([n]) => n !== 'eslint').map(([n, v]) => n + '@' + v).join(' ')") >/dev/null
preload=()
if [ "$mode" = poolguard ]; then
  printf '%s\n' "'use strict';" \
    "// Every pool the tests create is guarded in place: guard() wraps mysql's own Pool (this copy of it)." \
    "const mysql = require('$work/index.js');" \
    "const { guard } = require('$repo/dist/cjs/mysql.js');" \
    "const createPool = mysql.createPool;" \
    "let pools = 0;" \
    "mysql.createPool = function (config) { const pool = createPool.call(this, config); guard(pool, { logger: false, name: 'upstream-' + ++pools }); return pool; };" \
    "process.on('exit', () => require('fs').appendFileSync('$work/guarded.txt', pools + '\\n'));" > guard-pools.js
  preload=(--require "$work/guard-pools.js")
fi
echo "mysql@$version's pool tests (test/unit/pool) against ${mode}"
passed=0 failed=0 failures=()
for t in test/unit/pool/test-*.js; do
  if NODE_OPTIONS="${preload[*]}" timeout 30 node "$t" >"$work/out.txt" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("$t"); sed 's/^/    /' "$work/out.txt" | head -20
  fi
done
for t in "${failures[@]}"; do echo "failed: $t"; done
[ "$mode" = poolguard ] && echo "pools guarded: $(awk '{ s += $1 } END { print s }' "$work/guarded.txt") in $(grep -vc '^0$' "$work/guarded.txt") of $(wc -l <"$work/guarded.txt") test files"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
