#!/usr/bin/env bash
# run.sh - builds the libFuzzer targets with clang (ASan + UBSan) and
# fuzzes one of them for a while.
#
#   bash tests/fuzz/run.sh TARGET SECONDS [LIBFUZZER-OPTIONS...]
#   bash tests/fuzz/run.sh list
#
# TARGET is a file tests/fuzz/fuzz_TARGET.c (control_split, control_run,
# revparse, tree, commit, file_map, odb, json, product).  The build goes to
# $MESH_FUZZ_BUILD (default build-fuzz/); the run starts from the seeds in
# tests/fuzz/corpus/TARGET/ and keeps what it finds in a scratch corpus
# (the seeds are never changed).  A crash or sanitizer report leaves its
# input as crash-*/leak-*/timeout-* in $MESH_FUZZ_ARTIFACTS (default the
# scratch directory, printed) and exits non-zero.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${MESH_FUZZ_BUILD:-$ROOT/build-fuzz}
CC=${MESH_FUZZ_CC:-clang-14}

usage() {
	echo "usage: bash tests/fuzz/run.sh TARGET SECONDS [libFuzzer options] | list" >&2
	exit 2
}

targets() {
	local f
	for f in "$ROOT"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		[[ $f == util.c ]] || echo "${f%.c}"
	done
}

[[ ${1:-} == list ]] && { targets; exit 0; }
[[ $# -ge 2 ]] || usage
target=$1 seconds=$2
shift 2
targets | grep -qx -- "$target" || { echo "run.sh: no target '$target' (try: list)" >&2; exit 2; }
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: SECONDS must be a positive number, not '$seconds'" >&2; exit 2; }

if ! "$CC" --version >/dev/null 2>&1; then
	echo "run.sh: $CC not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
	exit 1
fi
cmake -S "$ROOT" -B "$BUILD" -DMESH_FUZZ=ON -DCMAKE_C_COMPILER="$CC" >/dev/null
cmake --build "$BUILD" -j2 --target "fuzz_$target" >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/meshfuzz-run.XXXXXX")
artifacts=${MESH_FUZZ_ARTIFACTS:-$scratch}
mkdir -p "$scratch/corpus" "$artifacts"
cp "$ROOT/tests/fuzz/corpus/$target"/* "$scratch/corpus/" 2>/dev/null || true

# Leaks are reports too; a sanitizer report is fatal (halt_on_error).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
TMPDIR=$scratch "$BUILD/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
	-rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$@" "$scratch/corpus" >"$scratch/log" 2>&1 || rc=$?
grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "$scratch/log" || true
if [[ $rc -ne 0 ]] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$scratch/log"; then
	tail -60 "$scratch/log" >&2
	echo "run.sh: fuzz_$target failed (exit $rc); inputs and log in $artifacts, $scratch" >&2
	exit 1
fi
echo "fuzz_$target: ${seconds}s, no crash and no sanitizer report"
rm -rf "$scratch"
