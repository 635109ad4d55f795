#!/usr/bin/env bash
# mysql2's own pool test files (`test/**/*pool*`: pools and pool clusters, callback and promise), run
# unchanged against poolguard/mysql2's and poolguard/mysql2/promise's createPool and createPoolCluster.
#
#   bash scripts/upstream/mysql2-pool-tests.sh NODE_MYSQL2_GIT_DIR [plain|poolguard|both] [FILTER…]
#
# NODE_MYSQL2_GIT_DIR is a git directory of sidorares/node-mysql2. The tests are taken from the tag of
# the mysql2 version in this repository's lockfile (MYSQL2_TAG=vX.Y.Z names another, for a clone that
# lacks it), into a temporary directory outside the repository, with their own dev dependencies (poku,
# tsx); nothing of them is copied here. Each file runs alone through mysql2's runner, as its CI runs it.
# `plain` runs them against this repository's mysql2 (the baseline), `poolguard` (the default) with
# poolguard's constructors in its place, `both` the two and the files where they differ
# (mysql2-pool-tests.mjs; mysql2-substitute.mjs answers the files' imports). Both load the same mysql2.
# Needs a built dist/ (npm run build) and MariaDB or MySQL on 127.0.0.1:3306 (root, no password, `test`).
set -euo pipefail
source "$(dirname "$0")/common.sh"
upstream_setup mysql2 "$@"
shift 2 || shift $#
tag="${MYSQL2_TAG:-v$version}"
git --git-dir="$git_dir" archive "$tag" | tar -x -C "$work"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
[ "$tag" = "v$version" ] || echo "mysql2 $tag's test files, against mysql2 $version (MYSQL2_TAG)"
node "$repo/scripts/upstream/mysql2-pool-tests.mjs" "$work" --driver "$mode" "$@"
