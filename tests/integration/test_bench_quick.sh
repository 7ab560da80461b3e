#!/usr/bin/env bash
# The benchmark suite cannot rot: bench/run --quick runs every workload of
# issue 4 (and the databases of issue 13: SQLite WAL, fio with fsyncs,
# DuckDB) at tiny sizes against the meshfs under test (no build), must exit
# 0, write a table with a row for each of the 13 workloads, leave nothing
# mounted, and the daemon must not have reported a sanitizer error.
# DuckDB's npm client is installed beside the meshfs binary as
# test_duckdb.sh does (the npm registry the first time).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
tmpdir=$MESH_TMP
work=$tmpdir/work
table=$tmpdir/table.md

note "bench/run --quick"
if ! bash "$MESH_SOURCE_DIR/bench/run" --quick --meshfs "$MESHFS_BIN" --dir "$work" \
	--out "$table" >"$tmpdir/bench.out" 2>"$tmpdir/bench.err"; then
	tail -n 60 "$tmpdir/bench.err" >&2
	cat "$tmpdir/bench.out" >&2
	fail "bench/run --quick failed"
fi

note "the table has every workload"
[[ -s $table ]] || fail "bench/run wrote no table to $table"
for n in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
	grep -qE "^\| ${n}[a-z]? \|" "$table" || fail "no row for workload $n in $table: $(cat "$table")"
done
assert_contains "$(cat "$table")" "Machine: " "the table's header"
assert_not_contains "$(cat "$table")" "FAILED" "the table"
assert_eq "$(cat "$table")" "$(sed -n '/^# meshfs benchmark/,$p' "$tmpdir/bench.out")" \
	"the table on stdout versus --out"

note "nothing left mounted, daemons clean"
left=$(awk -v d="$work/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts)
[[ -z $left ]] || fail "bench/run left mounted: $left"
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work"/logs/*.log >&2; then
	grep -hE -A 20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work"/logs/*.log | head -n 60 >&2
	fail "a meshfs daemon of the benchmark reported a sanitizer error"
fi

note "bad arguments are refused at once, naming the problem"
for args in "--only 14" "--only 1,,2" "--only sqlite" "--runs 0" "--bogus"; do
	# shellcheck disable=SC2086
	assert_fails bash "$MESH_SOURCE_DIR/bench/run" $args --dir "$tmpdir/never"
	assert_contains "$ERR" "bench/run: " "the error for bench/run $args"
	[[ ! -e $tmpdir/never ]] || fail "bench/run $args touched its work directory"
done
assert_fails bash "$MESH_SOURCE_DIR/bench/run" --only 14
assert_contains "$ERR" "workload numbers 1 to 13" "the error for --only 14"
assert_fails bash "$MESH_SOURCE_DIR/bench/run" --runs 0
assert_contains "$ERR" "at least 1" "the error for --runs 0"
