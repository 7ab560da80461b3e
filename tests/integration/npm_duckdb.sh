#!/usr/bin/env bash
# npm_duckdb.sh CACHE: makes the pinned npm @duckdb/node-api (on Debian's
# node) loadable from CACHE and prints its directory.  Installs it the
# first time (that needs the npm registry), then reuses it.  Shared by
# test_duckdb.sh and bench/run's DuckDB row, so both run the same DuckDB.
# Exits 1 with the reason on stderr when node, npm or the package is missing.
set -euo pipefail

DUCKDB_VERSION=1.5.6-r.1
CACHE=${1:?usage: npm_duckdb.sh CACHE}
API=$CACHE/node_modules/@duckdb/node-api

say() { echo "npm_duckdb.sh: $*" >&2; }

command -v node >/dev/null || { say "no node (apt-get install nodejs)"; exit 1; }
command -v npm >/dev/null || { say "no npm (apt-get install npm)"; exit 1; }

installed_version() {
	node -e 'console.log(require(process.argv[1] + "/package.json").version)' "$API" 2>/dev/null || true
}

if [[ $(installed_version) != "$DUCKDB_VERSION" ]]; then
	say "npm install @duckdb/node-api@$DUCKDB_VERSION into $CACHE"
	mkdir -p "$CACHE"
	if ! npm install --prefix "$CACHE" --cache "$CACHE/.npm" --no-audit --no-fund \
		--loglevel=error "@duckdb/node-api@$DUCKDB_VERSION" </dev/null >&2; then
		say "npm install @duckdb/node-api@$DUCKDB_VERSION failed (is the npm registry reachable?)"
		exit 1
	fi
fi
# The binary comes as the optional dependency @duckdb/node-bindings-<os>-<cpu>.
if ! err=$(node -e 'require(process.argv[1])' "$API" 2>&1); then
	say "@duckdb/node-api does not load (prebuilt binary missing?): $err"
	exit 1
fi
echo "$API"
