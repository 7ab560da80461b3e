#!/usr/bin/env bash
# Issue 9's reproducer: 10 threads each loop branch create -> write 3
# files -> commit -> merge into main -> branch delete through the control
# file for 60 s.  Every step must answer (a merge may say EAGAIN/EBUSY),
# the daemon must stay up, no sanitizer may report, and afterwards main
# lists and every file merged into it reads.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_mount
"$PY" "$MESH_SOURCE_DIR/tests/stress/concurrent_branches.py" "$MNT" sales \
	"${MESH_BRANCHES_THREADS:-10}" "${MESH_BRANCHES_SECONDS:-60}" ||
	fail "the concurrent branch workload failed (above)"
kill -0 "$MESH_PID" 2>/dev/null || fail "the daemon died"
count=$(find "$MNT/sales/main" -name 'f*.txt' | wc -l)
((count > 0)) || fail "nothing was merged into main"
find "$MNT/sales/main" -name 'f*.txt' -exec cat {} + | wc -c >/dev/null ||
	fail "files merged into main do not read"
mesh_ctl_ok "status sales/main"
echo "PASS: $MESH_TEST_NAME ($count files merged into main)"
