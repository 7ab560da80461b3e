#!/usr/bin/env bash
# test_stress, then issue 9's 10-thread branch workload for 60 s, under
# ThreadSanitizer: the same workloads on a daemon built
# with MESH_SANITIZE=thread (into build-tsan/, built here when missing or
# given as MESHFS_TSAN_BIN); any ThreadSanitizer report fails it.  The
# suppressions in tests/sanitize/tsan.supp cover only RocksDB's own
# uninstrumented internals.
set -euo pipefail
SRC=${MESH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [[ -z ${MESHFS_TSAN_BIN:-} ]]; then
	MESHFS_TSAN_BIN=$SRC/build-tsan/meshfs
	cmake -S "$SRC" -B "$SRC/build-tsan" -DMESH_SANITIZE=thread \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$SRC/build-tsan" --target meshfs -j "$(nproc)" >/dev/null
fi
export MESHFS_BIN=$MESHFS_TSAN_BIN
export TSAN_OPTIONS="halt_on_error=0 history_size=4 suppressions=$SRC/tests/sanitize/tsan.supp"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
for d in sales marketing; do mesh_domain "$d"; done
mesh_mount
"$PY" "$MESH_SOURCE_DIR/tests/stress/stress.py" "$MNT" "${MESH_STRESS_SECONDS:-20}" \
	"${MESH_STRESS_THREADS:-6}" sales marketing ||
	fail "the stress run under TSan found problems (above)"
"$PY" "$MESH_SOURCE_DIR/tests/stress/concurrent_branches.py" "$MNT" sales \
	"${MESH_BRANCHES_THREADS:-10}" "${MESH_BRANCHES_SECONDS:-60}" ||
	fail "the concurrent branch workload under TSan failed (above)"
kill -0 "$MESH_PID" 2>/dev/null || fail "the daemon died"
clean=$(mesh_ctl_ok "fsck" | mesh_json 'd["clean"]')
assert_eq true "$clean" "fsck after the run"
echo "PASS: $MESH_TEST_NAME"
