#!/usr/bin/env bash
# pg-pool's own test suite, run unchanged against poolguard/pg's Pool (the drop-in contract).
#
#   bash scripts/upstream/pg-pool-tests.sh NODE_POSTGRES_GIT_DIR [plain|poolguard]
#
# NODE_POSTGRES_GIT_DIR is a git directory of brianc/node-postgres (a bare clone works). The tests are
# taken from the tag of the pg-pool version in this repository's lockfile, into a temporary directory
# outside the repository; nothing of them is copied here. `plain` runs them against pg-pool itself
# (the baseline), `poolguard` (the default) against this repository's built dist/ through an index.js
# that exports poolguard/pg's Pool where the tests `require('../')`.
# Needs a built dist/ (npm run build) and PostgreSQL on 127.0.0.1:5432 (user postgres).
set -euo pipefail
source "$(dirname "$0")/common.sh"
upstream_setup pg-pool "$@"
git --git-dir="$git_dir" archive "pg-pool@$version" packages/pg-pool | tar -x -C "$work"
cd "$work/packages/pg-pool"
# pg-pool's own devDependencies, as its package.json lists them (mocha, expect.js, lodash, bluebird, co).
npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
  $(node -p "Object.entries(require('./package.json').devDependencies).map(([n, v]) => n + '@' + v).join(' ')") >/dev/null
# pg and pg-cursor are workspace siblings upstream; the tests get the same pg that poolguard wraps.
for m in pg pg-cursor; do ln -s "$repo/node_modules/$m" "node_modules/$m"; done
if [ "$mode" = poolguard ]; then
  printf '%s\n' "'use strict'" \
    "// The tests require('../'): poolguard/pg's Pool, which is a pg.Pool, stands where pg-pool's Pool was." \
    "module.exports = require('$repo/dist/cjs/pg.js').Pool" > index.js
fi
echo "pg-pool@$version's tests against ${mode}"
PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGDATABASE=postgres node_modules/.bin/mocha --exit test/*.js
