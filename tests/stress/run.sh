#!/usr/bin/env bash
# tests/stress/run.sh [SECONDS] [THREADS] - the long stress runs: the
# concurrent-branches workload and tests/stress/stress.py, each under ASan
# (build-test/, as the test command builds it) and TSan (build-tsan/).
# Exits non-zero at the first failure.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-300}
THREADS=${2:-10}
cmake -S "$SRC" -B "$SRC/build-test" -DMESH_SANITIZE=ON >/dev/null
cmake --build "$SRC/build-test" --target meshfs -j "$(nproc)" >/dev/null
export MESH_SOURCE_DIR=$SRC MESH_STRESS_SECONDS=$SECS MESH_STRESS_THREADS=$THREADS
export MESH_BRANCHES_SECONDS=$SECS MESH_BRANCHES_THREADS=$THREADS
MESHFS_BIN=$SRC/build-test/meshfs bash "$SRC/tests/integration/test_stress.sh"
MESHFS_BIN=$SRC/build-test/meshfs bash "$SRC/tests/integration/test_branches.sh"
bash "$SRC/tests/integration/test_stress_tsan.sh"
echo "stress: all runs passed (${SECS} s each, ${THREADS} threads)"
