#!/usr/bin/env bash
# generic-pool's own test suite, run unchanged against poolguard/generic-pool's createPool.
#
#   bash scripts/upstream/generic-pool-tests.sh NODE_POOL_GIT_DIR [plain|poolguard]
#
# NODE_POOL_GIT_DIR is a git directory of coopernurse/node-pool. The tests are taken from the tag of
# the generic-pool version in this repository's lockfile, into a temporary directory outside the
# repository; nothing of them is copied here. `plain` runs them against generic-pool itself (the
# baseline), `poolguard` (the default) against this repository's built dist/: the tests
# `require('../')`, so index.js there exports generic-pool's own module with poolguard's createPool.
# Needs a built dist/ (npm run build).
set -euo pipefail
source "$(dirname "$0")/common.sh"
upstream_setup generic-pool "$@"
git --git-dir="$git_dir" archive "v$version" | tar -x -C "$work"
cd "$work"
# Its runner is tap (package.json: "tap test/*-test.js"); a current tap major runs the same API. It is
# installed beside the checkout, not from its package.json (whose 2017 lint tools no longer resolve).
npm install --prefix "$work/.runner" --no-audit --no-fund --ignore-scripts --loglevel=error tap@16 >/dev/null
ln -s "$work/.runner/node_modules" node_modules
if [ "$mode" = poolguard ]; then
  mv index.js generic-pool-index.js
  printf '%s\n' "'use strict'" \
    "// The tests require('../'): generic-pool's module, with poolguard's createPool in place of its own." \
    "module.exports = { ...require('./generic-pool-index.js'), createPool: require('$repo/dist/cjs/generic-pool.js').createPool }" > index.js
fi
echo "generic-pool@$version's tests against ${mode}"
node_modules/.bin/tap --no-coverage --reporter=classic test/*-test.js
