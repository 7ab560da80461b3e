#!/usr/bin/env bash
# DuckDB (npm @duckdb/node-api on Debian's node) as a real client: CSV and
# Parquet written with COPY into a branch view, a commit through the
# control file, reads through commit views (duckdb_client.cjs).
#
# The npm package (with its prebuilt binary, an optional dependency) is
# installed once into a cache beside the meshfs binary; MESH_NPM_CACHE moves
# it.  It needs the npm registry the first time.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

DUCKDB_VERSION=1.5.6-r.1
CACHE=${MESH_NPM_CACHE:-$(dirname "$MESHFS_BIN")/npm-duckdb}
API=$CACHE/node_modules/@duckdb/node-api

command -v node >/dev/null || { echo "FAIL [test_duckdb]: no node (apt-get install nodejs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL [test_duckdb]: no npm (apt-get install npm)" >&2; exit 1; }

installed_version() {
	node -e 'console.log(require(process.argv[1] + "/package.json").version)' "$API" 2>/dev/null || true
}

if [[ $(installed_version) != "$DUCKDB_VERSION" ]]; then
	echo "--- npm install @duckdb/node-api@$DUCKDB_VERSION into $CACHE"
	mkdir -p "$CACHE"
	if ! npm install --prefix "$CACHE" --cache "$CACHE/.npm" --no-audit --no-fund \
		--loglevel=error "@duckdb/node-api@$DUCKDB_VERSION" </dev/null >&2; then
		echo "FAIL [test_duckdb]: npm install @duckdb/node-api@$DUCKDB_VERSION failed (is the npm registry reachable?)" >&2
		exit 1
	fi
fi
# The binary comes as the optional dependency @duckdb/node-bindings-<os>-<cpu>.
if ! node -e 'require(process.argv[1])' "$API" 2>"${TMPDIR:-/tmp}/test_duckdb.load.$$"; then
	echo "FAIL [test_duckdb]: @duckdb/node-api does not load (prebuilt binary missing?):" >&2
	cat "${TMPDIR:-/tmp}/test_duckdb.load.$$" >&2
	rm -f "${TMPDIR:-/tmp}/test_duckdb.load.$$"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/test_duckdb.load.$$"

mesh_setup
mesh_domain lake
mesh_mount

note "node $(node --version), @duckdb/node-api $(installed_version)"
node "$MESH_SOURCE_DIR/tests/integration/duckdb_client.cjs" "$API" "$MNT" lake ||
	fail "the DuckDB client failed"

note "after a remount the commits still read"
mesh_remount
c=$(mesh_ctl_ok "log lake/main -n 3" | mesh_json '" ".join(c["message"] for c in d["commits"])')
assert_eq "duckdb database duckdb rewrite duckdb load" "$c" "messages of the DuckDB commits"
exit 0
