#!/usr/bin/env bash
# Several programs at once in three domains of one mount: branch create,
# write, rewrite with O_TRUNC, cp across domains, commit, tag, merge into
# main, branch and tag delete, and readers of commit ids and tags; then
# every commit, live tag and main reads back exactly (tests/stress/stress.py).
# Runs on the test build (ASan+UBSan): any sanitizer report fails it, as
# does a daemon that dies.  MESH_STRESS_SECONDS / MESH_STRESS_THREADS
# make it longer (tests/stress/run.sh).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
for d in sales marketing finance; do mesh_domain "$d"; done
mesh_mount
"$PY" "$MESH_SOURCE_DIR/tests/stress/stress.py" "$MNT" "${MESH_STRESS_SECONDS:-20}" \
	"${MESH_STRESS_THREADS:-6}" sales marketing finance ||
	fail "the stress run found problems (above)"
kill -0 "$MESH_PID" 2>/dev/null || fail "the daemon died"
clean=$(mesh_ctl_ok "fsck" | mesh_json 'd["clean"]')
assert_eq true "$clean" "fsck after the run"
echo "PASS: $MESH_TEST_NAME"
