#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) into
# their own build directory and fuzzes each for MESH_FUZZ_SECONDS (5)
# seconds from its seed corpus: any crash, leak, sanitizer report or
# broken property fails the test.  tests/fuzz/run.sh TARGET SECONDS runs
# one target for longer.
set -euo pipefail

ROOT=${MESH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SECONDS_EACH=${MESH_FUZZ_SECONDS:-5}
export MESH_FUZZ_BUILD=${MESH_FUZZ_BUILD:-$ROOT/build-fuzz-test}
CC=${MESH_FUZZ_CC:-clang-14}

if ! "$CC" --version >/dev/null 2>&1; then
	echo "FAIL [test_fuzz]: $CC is missing (bash packaging/bootstrap.sh test installs clang-14 and libclang-rt-14-dev)" >&2
	exit 1
fi
failed=()
for target in $(bash "$ROOT/tests/fuzz/run.sh" list); do
	echo "--- fuzz_$target for ${SECONDS_EACH}s"
	if ! bash "$ROOT/tests/fuzz/run.sh" "$target" "$SECONDS_EACH"; then
		failed+=("$target")
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "FAIL [test_fuzz]: ${failed[*]}" >&2
	exit 1
fi
echo "PASS [test_fuzz]"
