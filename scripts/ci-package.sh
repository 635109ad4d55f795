#!/usr/bin/env bash
# CI: the package as a user gets it. Packs a copy of the sources that has no dist/ (as a fresh clone
# has none, so the pack must build it), checks the tarball's types in every resolution mode
# (arethetypeswrong) and its package.json (publint), installs it into a scratch project outside the
# repository with pg, generic-pool, @types/pg and typescript at the versions this repository pins, then
# runs an ESM file and a CommonJS file against the real server and type-checks a TypeScript file under
# each moduleResolution, with TypeScript 5.9, the pinned 6.0 and 7.0 (what `npm i typescript` installs
# now); then poolguard/postgres once more with postgres.js 4 in place of 3.4. Needs PostgreSQL on DATABASE_URL (default 127.0.0.1:5432) and npm.
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
cp "$repo/scripts/consumer/mysql-family.mjs" "$consumer/"
cp "$repo/scripts/consumer/leak-tests.cjs" "$repo/scripts/consumer/leak.test.mjs" "$repo/scripts/consumer/leak.spec.cjs" "$consumer/"
cp "$repo/scripts/consumer/types.ts" "$consumer/types.ts"
cp "$repo/scripts/consumer/types.ts" "$consumer/types.mts"
cp "$repo/scripts/consumer/postgres-types.ts" "$consumer/postgres-types.mts"
cp "$repo/scripts/consumer/leaky.mjs" "$repo/scripts/consumer/eslint.config.mjs" "$repo/scripts/consumer/eslint.config.cjs" \
  "$repo/scripts/consumer/eslint-config.ts" "$repo/scripts/consumer/postgres-run.mjs" "$repo/scripts/consumer/postgres-run.cjs" \
  "$repo/scripts/consumer/postgres-types.ts" "$consumer/"
echo '{ "name": "poolguard-consumer", "private": true }' > "$consumer/package.json"
# typescript 5.9 beside the pinned one: node10 resolution is what TypeScript 5.9 projects (NestJS's
# default) use, TypeScript 6 deprecates it, and 5.9 still allows esModuleInterop off (the
# declarations must not need it). typescript 7.0 (the native compiler, `typescript@latest`) removed
# node10 and esModuleInterop off; a project leaving node10 for it gets bundler resolution by default.
# npm 11 lists a dependency's install scripts (preinstall, install, postinstall, and prepare when it
# is installed from a tarball or git) and asks for them to be allowed: poolguard must have none.
install_log="$(cd "$consumer" && npm install --no-audit --no-fund --loglevel=warn "$tarball" \
  "pg@$(pinned pg)" "generic-pool@$(pinned generic-pool)" "@types/pg@$(pinned @types/pg)" \
  "mysql@$(pinned mysql)" "mariadb@$(pinned mariadb)" \
  "@opentelemetry/api@$(pinned @opentelemetry/api)" "typescript@$(pinned typescript)" "eslint@$(pinned eslint)" "mocha@$(pinned mocha)" \
  "postgres@$(pinned postgres)" \
  "typescript-5.9@npm:typescript@5.9.3" "typescript-7@npm:typescript@7.0.2" 2>&1)" \
  || { echo "$install_log" >&2; exit 1; }
if grep -q 'install-scripts.*poolguard@' <<<"$install_log"; then
  echo "npm lists an install script of poolguard when it is installed from its tarball:" >&2
  echo "$install_log" >&2; exit 1
fi
echo "installed from the tarball; npm lists no install script of poolguard"

echo "== run: ESM and CommonJS ($(node -v)), with and without source maps"
(cd "$consumer" && node run.mjs && node run.cjs && node --enable-source-maps run.mjs && node --enable-source-maps run.cjs)
(cd "$consumer" && node postgres-run.mjs && node postgres-run.cjs)
echo "== mysql and the MariaDB connector (needs MariaDB or MySQL on 127.0.0.1:3306)"
(cd "$consumer" && node mysql-family.mjs)
echo "== the poolguard command"
usage="$(cd "$consumer" && npx --no-install poolguard --help)"
grep -q '^Usage: poolguard ' <<<"$usage" || { echo "poolguard --help printed: $usage" >&2; exit 1; }
echo "poolguard --help: ok"

echo "== poolguard/eslint in ESLint $(pinned eslint): the leak in leaky.mjs found, the fixed handler not"
for config in eslint.config.mjs eslint.config.cjs; do
  set +e
  json="$(cd "$consumer" && npx --no-install eslint --config "$config" --format json leaky.mjs)"
  code=$?
  set -e
  found="$(node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const f of r) for (const m of f.messages) console.log(`${m.line}:${m.column} ${m.ruleId} ${m.message}`)' <<<"$json" || echo "$json")"
  expected='4:24 poolguard/release-on-every-path pool.connect() at line 4 is not released on every path (the return at line 6 leaves it checked out): use "await using client = await pool.connect()" (Node 24+) or release it in a finally block.'
  if [ "$code" -ne 1 ] || [ "$found" != "$expected" ]; then
    echo "eslint --config $config exited $code and found:" >&2; echo "$found" >&2; exit 1
  fi
  echo "$config: ok (${found%% pool.connect*})"
done

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
tsc_config() { # label, module, moduleResolution ('-': none, the compiler's default), extra options (json), files...
  local label="$1" module="$2" resolution="$3" extra="$4"; shift 4
  local files; files="$(printf '"%s",' "$@")"
  local resolve=''; [ "$resolution" != - ] && resolve="\"moduleResolution\": \"$resolution\","
  cat > "$consumer/tsconfig.$label.json" <<EOF
{ "compilerOptions": { "module": "$module", $resolve "target": "ES2022",
  "strict": true, "skipLibCheck": false, "noEmit": true $extra }, "files": [${files%,}] }
EOF
}
tsc_check() { # label, typescript package dir, module, moduleResolution, extra options (json), files...
  local label="$1" ts="$2" module="$3" resolution="$4"; shift 2
  tsc_config "$label" "$@"
  echo "-- $label: $(node "$consumer/node_modules/$ts/bin/tsc" -v), module $module, moduleResolution $resolution"
  (cd "$consumer" && node "node_modules/$ts/bin/tsc" -p "tsconfig.$label.json")
}
tsc_check node10 typescript commonjs node10 ', "ignoreDeprecations": "6.0"' types.ts eslint-config.ts postgres-types.ts
noInterop=', "esModuleInterop": false, "allowSyntheticDefaultImports": false'
tsc_check node10-ts5.9 typescript-5.9 commonjs node10 "$noInterop" types.ts eslint-config.ts postgres-types.ts
tsc_check nodenext-ts5.9 typescript-5.9 nodenext nodenext "$noInterop" types.ts types.mts eslint-config.ts postgres-types.ts postgres-types.mts
tsc_check bundler-ts5.9 typescript-5.9 esnext bundler "$noInterop" types.ts eslint-config.ts postgres-types.ts
tsc_check node16 typescript node16 node16 '' types.ts types.mts eslint-config.ts postgres-types.ts postgres-types.mts
tsc_check nodenext typescript nodenext nodenext '' types.ts types.mts eslint-config.ts postgres-types.ts postgres-types.mts
tsc_check bundler typescript esnext bundler '' types.ts eslint-config.ts postgres-types.ts
# TypeScript 7: node16, nodenext and bundler resolve through the exports map; module commonjs without
# moduleResolution (a NestJS tsconfig with "moduleResolution": "node" removed) resolves as bundler.
tsc_check node16-ts7 typescript-7 node16 node16 '' types.ts types.mts eslint-config.ts postgres-types.ts postgres-types.mts
tsc_check nodenext-ts7 typescript-7 nodenext nodenext '' types.ts types.mts eslint-config.ts postgres-types.ts postgres-types.mts
tsc_check bundler-ts7 typescript-7 esnext bundler '' types.ts eslint-config.ts postgres-types.ts
tsc_check commonjs-ts7 typescript-7 commonjs - '' types.ts eslint-config.ts postgres-types.ts
# What docs/typescript.md says of node10 under TypeScript 7: the compiler refuses it (TS5108).
tsc_config node10-ts7 commonjs node10 '' types.ts
if out="$(cd "$consumer" && node node_modules/typescript-7/bin/tsc -p tsconfig.node10-ts7.json 2>&1)"; then
  echo "TypeScript 7 accepted moduleResolution node10; docs/typescript.md says it refuses it (TS5108)" >&2; exit 1
fi
grep -q 'error TS5108' <<<"$out" || { echo "TypeScript 7 on node10 did not fail with TS5108:" >&2; echo "$out" >&2; exit 1; }
echo "-- node10-ts7: refused as docs/typescript.md says (TS5108)"

# poolguard/postgres guards postgres.js 3.4 and 4 (an ES module with its own types): the same run
# and type checks with the 4 this repository tests against (its devDependency postgres4) installed as `postgres`.
postgres4="$(pinned postgres4)"
echo "== poolguard/postgres with postgres.js ${postgres4#npm:postgres@}"
(cd "$consumer" && npm install --no-audit --no-fund --loglevel=warn "postgres@${postgres4#npm:postgres@}" >/dev/null)
(cd "$consumer" && node postgres-run.mjs && node postgres-run.cjs)
# types.ts beside it, as above: TypeScript 6 includes no @types by default, and its pg import brings Node's.
tsc_check node10-ts5.9-postgres4 typescript-5.9 commonjs node10 "$noInterop" types.ts postgres-types.ts
tsc_check nodenext-postgres4 typescript nodenext nodenext '' types.ts types.mts postgres-types.ts postgres-types.mts
tsc_check bundler-postgres4 typescript esnext bundler '' types.ts postgres-types.ts
tsc_check nodenext-ts7-postgres4 typescript-7 nodenext nodenext '' types.ts types.mts postgres-types.ts postgres-types.mts
echo "package: ok"
