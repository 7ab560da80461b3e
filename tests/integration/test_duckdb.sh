#!/usr/bin/env bash
# DuckDB (npm @duckdb/node-api on Debian's node) as a real client: CSV and
# Parquet written with COPY into a branch view, a commit through the
# control file, reads through commit views (duckdb_client.cjs).
#
# The npm package (with its prebuilt binary, an optional dependency) is
# installed once into a cache beside the meshfs binary by npm_duckdb.sh;
# MESH_NPM_CACHE moves it.  It needs the npm registry the first time.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

CACHE=${MESH_NPM_CACHE:-$(dirname "$MESHFS_BIN")/npm-duckdb}
API=$(bash "$(dirname "$0")/npm_duckdb.sh" "$CACHE") || {
	echo "FAIL [test_duckdb]: no DuckDB client (see above)" >&2
	exit 1
}
installed_version() {
	node -e 'console.log(require(process.argv[1] + "/package.json").version)' "$API"
}

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
