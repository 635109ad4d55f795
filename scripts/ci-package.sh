#!/usr/bin/env bash
# CI: the package as a user gets it. Packs a copy of the sources that has no dist/ (as a fresh clone
# has none, so the pack must build it), checks the tarball's types in every resolution mode
# (arethetypeswrong) and its package.json (publint), installs it into a scratch project outside the
# repository with pg, generic-pool, @types/pg and typescript at the versions this repository pins, then
# runs an ESM file and a CommonJS file against the real server and type-checks a TypeScript file under
# each moduleResolution. Needs PostgreSQL on DATABASE_URL (default 127.0.0.1:5432) and npm.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/poolguard-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pinned() { node -p "require('$repo/package.json').devDependencies['$1']"; }

echo "== pack from a copy with no dist/"
# The files git would commit, as they are in the working tree; node_modules is the repository's own
# (the build needs typescript and tslib), linked rather than installed again.
mkdir "$work/source"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | tar -C "$repo" --null -T - --ignore-failed-read -cf - | tar -C "$work/source" -xf -
ln -s "$repo/node_modules" "$work/source/node_modules"
if [ -e "$work/source/dist" ]; then echo "the copy has a dist/ already; the check would prove nothing" >&2; exit 1; fi
(cd "$work/source" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/poolguard-*.tgz)"
listing="$(tar -tzf "$tarball")"
echo "packed $(basename "$tarball"): $(du -k "$tarball" | cut -f1) kB, $(wc -l <<<"$listing") files"
grep -qx 'package/dist/esm/pg.js' <<<"$listing" || { echo "the tarball has no dist/esm/pg.js: packing did not build it" >&2; exit 1; }

echo "== types in every resolution mode (arethetypeswrong), package.json (publint)"
(cd "$repo" && npx --no-install attw --no-emoji --no-color --format table-flipped "$tarball")
(cd "$repo" && npx --no-install publint run --strict "$tarball")

echo "== a scratch consumer project"
consumer="$work/consumer"
mkdir "$consumer"
cp "$repo/scripts/consumer/run.mjs" "$repo/scripts/consumer/run.cjs" "$repo/scripts/consumer/checks.cjs" "$consumer/"
cp "$repo/scripts/consumer/leak-tests.cjs" "$repo/scripts/consumer/leak.test.mjs" "$repo/scripts/consumer/leak.spec.cjs" "$consumer/"
cp "$repo/scripts/consumer/types.ts" "$consumer/types.ts"
cp "$repo/scripts/consumer/types.ts" "$consumer/types.mts"
echo '{ "name": "poolguard-consumer", "private": true }' > "$consumer/package.json"
# typescript 5.9 beside the pinned one: node10 resolution is what TypeScript 5.9 projects (NestJS's
# default) use, TypeScript 6 deprecates it, and 5.9 still allows esModuleInterop off (the
# declarations must not need it).
(cd "$consumer" && npm install --no-audit --no-fund --loglevel=error "$tarball" \
  "pg@$(pinned pg)" "generic-pool@$(pinned generic-pool)" "@types/pg@$(pinned @types/pg)" \
  "@opentelemetry/api@$(pinned @opentelemetry/api)" "typescript@$(pinned typescript)" \
  "typescript-5.9@npm:typescript@5.9.3" "mocha@$(pinned mocha)")

echo "== run: ESM and CommonJS ($(node -v)), with and without source maps"
(cd "$consumer" && node run.mjs && node run.cjs && node --enable-source-maps run.mjs && node --enable-source-maps run.cjs)
echo "== the poolguard command"
usage="$(cd "$consumer" && npx --no-install poolguard --help)"
grep -q '^Usage: poolguard ' <<<"$usage" || { echo "poolguard --help printed: $usage" >&2; exit 1; }
echo "poolguard --help: ok"

echo "== the leak check in a test runner, its set-up module loaded by name: node:test and Mocha"
leak_line="$(grep -n '// LEAK' "$consumer/leak-tests.cjs" | cut -d: -f1)"
expect_leak() { # runner label, command...
  local label="$1" out status; shift
  set +e; out="$(cd "$consumer" && "$@" 2>&1)"; status=$?; set -e
  if [ "$status" -eq 0 ] || ! grep -q 'poolguard: test "[^"]*leaks its client" ended with 1 lease still checked out' <<<"$out" \
    || ! grep -q "taken at leak-tests.cjs:$leak_line:[0-9]*, inside an open transaction" <<<"$out" || grep -q 'releases its client" ended' <<<"$out"; then
    echo "$label: expected exactly the leaking test to fail, naming leak-tests.cjs:$leak_line (exit $status):" >&2; echo "$out" >&2; exit 1
  fi
  echo "$label: the leaking test failed at leak-tests.cjs:$leak_line (exit $status)"
}
expect_leak node:test node --test --test-reporter=spec --import poolguard/testing/node-test leak.test.mjs
expect_leak mocha npx --no-install mocha --require poolguard/testing/mocha leak.spec.cjs

echo "== type-check under each moduleResolution"
tsc_check() { # label, typescript package dir, module, moduleResolution, extra options (json), files...
  local label="$1" ts="$2" module="$3" resolution="$4" extra="$5"; shift 5
  local files; files="$(printf '"%s",' "$@")"
  cat > "$consumer/tsconfig.$label.json" <<EOF
{ "compilerOptions": { "module": "$module", "moduleResolution": "$resolution", "target": "ES2022",
  "strict": true, "skipLibCheck": false, "noEmit": true $extra }, "files": [${files%,}] }
EOF
  echo "-- $label: $(node "$consumer/node_modules/$ts/bin/tsc" -v), module $module, moduleResolution $resolution"
  (cd "$consumer" && node "node_modules/$ts/bin/tsc" -p "tsconfig.$label.json")
}
tsc_check node10 typescript commonjs node10 ', "ignoreDeprecations": "6.0"' types.ts
noInterop=', "esModuleInterop": false, "allowSyntheticDefaultImports": false'
tsc_check node10-ts5.9 typescript-5.9 commonjs node10 "$noInterop" types.ts
tsc_check nodenext-ts5.9 typescript-5.9 nodenext nodenext "$noInterop" types.ts types.mts
tsc_check bundler-ts5.9 typescript-5.9 esnext bundler "$noInterop" types.ts
tsc_check node16 typescript node16 node16 '' types.ts types.mts
tsc_check nodenext typescript nodenext nodenext '' types.ts types.mts
tsc_check bundler typescript esnext bundler '' types.ts
echo "package: ok"
