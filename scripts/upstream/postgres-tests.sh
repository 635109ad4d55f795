#!/usr/bin/env bash
# postgres.js's own test suite (tests/index.js), run against poolguard/postgres's guarded sql as
# against postgres.js itself.
#
#   bash scripts/upstream/postgres-tests.sh POSTGRES_JS_GIT_DIR [plain|poolguard]
#
# POSTGRES_JS_GIT_DIR is a git directory of porsager/postgres (a bare clone works). The tests are
# taken from the tag of the postgres version in this repository's lockfile (v3.4.9), into a
# temporary directory outside the repository; nothing of them is copied here. They switch SSL on and
# change password_encryption with ALTER SYSTEM, and create users and a database: they run against
# private clusters that this script makes with initdb in the temporary directory, on free ports,
# started as the `postgres` system user and removed on exit (the shared server on 5432 is never
# touched). Because those clusters are not on 5432 and 5433, the ports written in four tests are
# rewritten to theirs; nothing else of the tests changes. `plain` runs them against the tag's own src/,
# `poolguard` (the default) against this repository's built dist/ (copied beside the tests), whose
# `postgres` import resolves to that same src/: the guarded sql is the only difference.
# Needs a built dist/ (npm run build), PostgreSQL's server binaries (initdb, pg_ctl), psql, createdb,
# dropdb and openssl, and root (to run the cluster as the postgres user).
set -euo pipefail
source "$(dirname "$0")/common.sh"
upstream_setup postgres "$@"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
chmod 755 "$work"
git --git-dir="$git_dir" archive "v$version" | tar -x -C "$work"

# The private clusters, set up as postgres.js's CI sets up its servers: trust for the postgres
# user, the tests' own pg_hba.conf, a self-signed certificate for their SSL tests, wal_level logical
# and prepared transactions; sockets in the temporary directory. The second one stands for the
# server its CI runs on 5433, which only the "Multiple hosts" test uses.
free_port() { node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
clusters=()
trap 'for d in "${clusters[@]}"; do runuser -u postgres -- "$bin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
start_cluster() { # DIR PORT
  local pgdata="$1" port="$2"
  mkdir -p "$pgdata" "$pgdata.socket" && chown postgres "$pgdata" "$pgdata.socket"
  runuser -u postgres -- "$bin/initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
  cp "$work/tests/pg_hba.conf" "$pgdata/pg_hba.conf"
  openssl req -new -x509 -days 1 -nodes -subj /CN=localhost -keyout "$pgdata/server.key" -out "$pgdata/server.crt" 2>/dev/null
  chown postgres "$pgdata/pg_hba.conf" "$pgdata/server.key" "$pgdata/server.crt" && chmod 600 "$pgdata/server.key"
  clusters+=("$pgdata")
  runuser -u postgres -- "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
    -o "-p $port -k $pgdata.socket -c listen_addresses=localhost -c ssl=on -c wal_level=logical -c max_prepared_transactions=100" start >/dev/null
}
port="$(free_port)" port2="$(free_port)"
start_cluster "$work/pgdata" "$port"
start_cluster "$work/pgdata2" "$port2"
sock="$work/pgdata.socket"

cd "$work"
sed -i "s/5432/$port/g; s/5433/$port2/g" tests/index.js
if [ "$mode" = poolguard ]; then
  mkdir -p node_modules/poolguard node_modules/@opentelemetry
  cp -r "$repo/dist" "$repo/package.json" node_modules/poolguard/
  ln -s "$repo/node_modules/tslib" node_modules/tslib
  ln -s "$repo/node_modules/@opentelemetry/api" node_modules/@opentelemetry/api
  # poolguard's `import 'postgres'` finds the tag's own package (this directory).
  ln -s .. node_modules/postgres
  printf '%s\n' "// The tests import postgres from '../src/index.js': poolguard/postgres stands there." \
    "export { default } from 'poolguard/postgres'" > tests/poolguard-postgres.js
  sed -i "s#^import postgres from '../src/index.js'#import postgres from './poolguard-postgres.js'#" tests/index.js
  grep -q "^import postgres from './poolguard-postgres.js'" tests/index.js
fi
echo "postgres.js v$version's tests (tests/index.js) against ${mode}, on private clusters on ports $port and $port2"
set +e
PGHOST=localhost PGPORT="$port" PGUSER=postgres PGSOCKET="$sock" timeout 300 node tests/index.js >"$work/out.txt" 2>"$work/err.txt"
status=$?
set -e
passed="$(grep -o '✅' "$work/out.txt" | wc -l)"
total="$(grep -cE "^(t|ot|nt)\(" tests/index.js)"
cat "$work/err.txt"
# Its runner (tests/test.js) skips every test after the first failure: the count says how far it got.
echo "postgres.js v$version against ${mode}: $passed of $total tests passed (exit $status)"
exit "$status"
