# shellcheck shell=bash
# lib.sh - sourced by every integration test (bash tests/integration/test_*.sh).
#
# A test calls mesh_setup (temp dir with store/ and mnt/, store initialised,
# cleanup trap installed), then mesh_mount, drives the mount with real
# programs, and fails through fail/assert_* with the daemon log attached.
# Whatever happens, the EXIT trap unmounts, stops the daemon and removes the
# temp dir.
#
# Variables for tests: MESHFS_BIN, PY (/usr/bin/python3, which has pandas),
# MESH_TMP, STORE, MNT, MESH_LOG, MESH_PID, and after run(): RC, OUT, ERR.

set -euo pipefail
set -E   # the ERR trap reports failures inside functions too

MESH_SOURCE_DIR=${MESH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MESHFS_BIN=${MESHFS_BIN:-$MESH_SOURCE_DIR/build/meshfs}
PY=/usr/bin/python3
MESH_TEST_NAME=$(basename "$0" .sh)
export MESHFS_BIN MESH_SOURCE_DIR PY

MESH_TMP=
STORE=
MNT=
MESH_LOG=
MESH_PID=
MESH_EXTRA_MOUNTS=()
MESH_MOUNT_COUNT=0
# Commands the EXIT trap runs once the mounts are gone (deleting the
# users and groups a test made): mesh_on_exit 'userdel x'.
MESH_EXIT_CMDS=()
mesh_on_exit() {
	MESH_EXIT_CMDS+=("$1")
}

if [[ ! -x $MESHFS_BIN ]]; then
	echo "$MESH_TEST_NAME: meshfs binary not found at $MESHFS_BIN" >&2
	exit 1
fi
if [[ ! -x $PY ]]; then
	echo "$MESH_TEST_NAME: $PY is missing (apt-get install python3-pandas)" >&2
	exit 1
fi

# ---------------------------------------------------------------- reporting

_mesh_log_tail() {
	if [[ -n $MESH_LOG && -s $MESH_LOG ]]; then
		echo "---- daemon log ($MESH_LOG), last 60 lines ----" >&2
		tail -n 60 "$MESH_LOG" >&2
		echo "---- end of daemon log ----" >&2
	fi
}

# fail MESSAGE...: stops the test; the EXIT trap prints the daemon log.
fail() {
	local i
	{
		echo "FAIL [$MESH_TEST_NAME]: $*"
		for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
			[[ ${FUNCNAME[$i]} == main ]] && break
			echo "    at ${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]} in ${FUNCNAME[$i]}"
		done
	} >&2
	exit 1
}

_mesh_on_err() {
	local rc=$1 line=$2 cmd=${3%%$'\n'*}
	((${#cmd} <= 160)) || cmd="${cmd:0:160}..."
	echo "FAIL [$MESH_TEST_NAME]: command exited $rc at line $line: $cmd" >&2
}
trap '_mesh_on_err $? $LINENO "$BASH_COMMAND"' ERR

note() {
	echo "--- $*"
}

# ---------------------------------------------------------------- mounts

# True while path is a mount point, even a dead FUSE mount whose stat
# fails with ENOTCONN (mountpoint(1) says no for those).
_mesh_in_mounts() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

_mesh_force_unmount() {
	local dir=$1
	_mesh_in_mounts "$dir" || return 0
	fusermount3 -u "$dir" 2>/dev/null && return 0
	sleep 0.5
	_mesh_in_mounts "$dir" || return 0
	fusermount3 -u "$dir" 2>/dev/null && return 0
	fusermount3 -uz "$dir" 2>/dev/null && return 0
	umount -l "$dir" 2>/dev/null || true
}

_MESH_SANITIZER_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer'

_mesh_sanitizer_report() {
	[[ -n $MESH_LOG && -f $MESH_LOG ]] || return 1
	grep -qE "$_MESH_SANITIZER_RE" "$MESH_LOG"
}

# _mesh_cleanup [RC]: RC (else $?) is the test's status.
_mesh_cleanup() {
	local rc=${1:-$?} i dir
	trap - ERR
	trap '' PIPE   # a reader that went away must not stop the cleanup
	set +e
	cd / # a busy mount cannot be unmounted
	if [[ -n $MNT ]]; then
		_mesh_force_unmount "$MNT"
	fi
	for dir in "${MESH_EXTRA_MOUNTS[@]}"; do
		_mesh_force_unmount "$dir"
	done
	if [[ -n $MESH_PID ]]; then
		for ((i = 0; i < 100; i++)); do
			kill -0 "$MESH_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$MESH_PID" 2>/dev/null; then
			echo "cleanup: daemon $MESH_PID still alive after unmount, killing it" >&2
			kill -9 "$MESH_PID" 2>/dev/null
		fi
		wait "$MESH_PID" 2>/dev/null
	fi
	for i in "${MESH_EXIT_CMDS[@]}"; do
		eval "$i" >/dev/null 2>&1
	done
	if _mesh_sanitizer_report; then
		echo "FAIL [$MESH_TEST_NAME]: the daemon reported a sanitizer error:" >&2
		grep -E -A 30 "$_MESH_SANITIZER_RE" "$MESH_LOG" | head -n 80 >&2
		[[ $rc -eq 0 ]] && rc=1
	fi
	if [[ $rc -ne 0 ]]; then
		_mesh_log_tail
	fi
	if [[ -n $MESH_TMP && -d $MESH_TMP ]]; then
		if [[ -n $MNT ]] && _mesh_in_mounts "$MNT"; then
			echo "cleanup: $MNT is still mounted; leaving $MESH_TMP" >&2
		else
			rm -rf --one-file-system "$MESH_TMP"
		fi
	fi
	if [[ $rc -eq 0 ]]; then
		echo "PASS [$MESH_TEST_NAME]"
	fi
	exit "$rc"
}

# mesh_setup: temp dir with store/ (initialised) and mnt/, cleanup trap.
mesh_setup() {
	MESH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/meshfs-$MESH_TEST_NAME.XXXXXX")
	STORE=$MESH_TMP/store
	MNT=$MESH_TMP/mnt
	MESH_LOG=$MESH_TMP/daemon.log
	mkdir -p "$MNT"
	: >"$MESH_LOG"
	trap _mesh_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 141' PIPE
	# Never let a CLI call fall back to the user's default store.
	export MESHFS_STORE=$STORE
	export MESH_TMP STORE MNT MESH_LOG
	"$MESHFS_BIN" init --store "$STORE" || fail "meshfs init --store $STORE failed"
}

# mesh_domain NAME [DESCRIPTION]: creates a domain (the store must not be mounted).
mesh_domain() {
	"$MESHFS_BIN" domain create "$1" --description "${2:-test domain $1}" --store "$STORE" ||
		fail "meshfs domain create $1 failed"
}

# mesh_mount [EXTRA MOUNT ARGS...]: starts the daemon in the foreground
# (background job, stderr to MESH_LOG) and waits until the mount serves.
mesh_mount() {
	local i
	[[ -z $MESH_PID ]] || fail "mesh_mount: daemon $MESH_PID is already running"
	MESH_MOUNT_COUNT=$((MESH_MOUNT_COUNT + 1))
	echo "==== [$MESH_TEST_NAME] mount #$MESH_MOUNT_COUNT $(date +%T.%N) ====" >>"$MESH_LOG"
	"$MESHFS_BIN" mount "$MNT" --store "$STORE" --foreground --log-level info "$@" \
		</dev/null >>"$MESH_LOG" 2>&1 &
	MESH_PID=$!
	for ((i = 0; i < 100; i++)); do
		if mountpoint -q "$MNT" && [[ -e $MNT/.control ]]; then
			return 0
		fi
		if ! kill -0 "$MESH_PID" 2>/dev/null; then
			local rc=0
			wait "$MESH_PID" || rc=$?
			MESH_PID=
			fail "meshfs mount exited with status $rc before the mount came up"
		fi
		sleep 0.1
	done
	fail "mount at $MNT did not come up within 10 s (no mountpoint or no .control)"
}

# mesh_umount: clean unmount through the CLI; the daemon must exit 0.
mesh_umount() {
	local i rc=0
	[[ -n $MESH_PID ]] || fail "mesh_umount: no daemon running"
	"$MESHFS_BIN" umount "$MNT" || fail "meshfs umount $MNT failed"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$MESH_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$MESH_PID" 2>/dev/null; then
		fail "daemon $MESH_PID still running 30 s after meshfs umount"
	fi
	wait "$MESH_PID" || rc=$?
	MESH_PID=
	if _mesh_in_mounts "$MNT"; then
		fail "$MNT is still mounted after meshfs umount"
	fi
	[[ $rc -eq 0 ]] || fail "daemon exited with status $rc after a clean unmount"
}

# mesh_kill9: the daemon dies without any cleanup; the dead mount goes away.
mesh_kill9() {
	mesh_kill9_daemon
	mesh_drop_dead_mount
}

# mesh_kill9_daemon: SIGKILL only.  The dead mount stays (every access
# fails with ENOTCONN) so that writers still running cannot fall through
# to the bare directory underneath; mesh_drop_dead_mount removes it.
mesh_kill9_daemon() {
	[[ -n $MESH_PID ]] || fail "mesh_kill9: no daemon running"
	kill -9 "$MESH_PID" 2>/dev/null || true
	wait "$MESH_PID" 2>/dev/null || true
	MESH_PID=
	echo "==== [$MESH_TEST_NAME] daemon killed with SIGKILL $(date +%T.%N) ====" >>"$MESH_LOG"
}

mesh_drop_dead_mount() {
	fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	if _mesh_in_mounts "$MNT"; then
		fail "dead mount $MNT could not be removed"
	fi
	if [[ -n $(ls -A "$MNT") ]]; then
		fail "files were written into the bare mount point $MNT: $(ls -A "$MNT")"
	fi
}

mesh_remount() {
	mesh_umount
	mesh_mount "$@"
}

# Other meshfs mounts on this machine (not ours), one per line.
mesh_other_mounts() {
	awk -v m="$MNT" '($3 == "fuse.meshfs" || $1 ~ /meshfs/) && $2 != m { print $2 }' /proc/self/mounts
}

# mesh_alone CMD...: runs CMD where ours is the only meshfs mount in
# /proc/self/mounts (a private mount namespace hides the others), so that
# autodetection of "the" mount is deterministic.
mesh_alone() {
	local others
	others=$(mesh_other_mounts)
	if [[ -z $others ]]; then
		"$@"
		return
	fi
	# shellcheck disable=SC2016  # expanded by the inner bash
	unshare -m --propagation private -- bash -c '
		while read -r m; do umount -l "$m" 2>/dev/null; done <<<"$1"
		shift
		exec "$@"' _ "$others" "$@"
}

# ---------------------------------------------------------------- commands

# run CMD...: never fails; sets RC, OUT (stdout) and ERR (stderr).
run() {
	local o=$MESH_TMP/.run.out e=$MESH_TMP/.run.err
	RC=0
	"$@" >"$o" 2>"$e" || RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
}

# mesh_cli ARGS...: the meshfs CLI; fails the test when it fails.
mesh_cli() {
	run "$MESHFS_BIN" "$@"
	if [[ $RC -ne 0 ]]; then
		fail "meshfs $* exited $RC: stdout: $OUT stderr: $ERR"
	fi
	printf '%s\n' "$OUT"
}

# The control-file client: opens MNT/.control O_RDWR, writes the line,
# reads the answer back from the same fd, prints it; exit 1 and the errno
# name on stderr when write(2) failed.
_MESH_CTL_PY='
import errno, os, sys
path, line = sys.argv[1], sys.argv[2]
if sys.argv[3] == "nl":
    line += "\n"
fd = os.open(path, os.O_RDWR)
failed = None
try:
    n = os.write(fd, line.encode())
    if n != len(line.encode()):
        sys.stderr.write("short write: %d of %d bytes\n" % (n, len(line.encode())))
        sys.exit(3)
except OSError as e:
    failed = e
chunks, off = [], 0
while True:
    b = os.pread(fd, 65536, off)
    if not b:
        break
    chunks.append(b)
    off += len(b)
os.close(fd)
sys.stdout.write(b"".join(chunks).decode())
if failed is not None:
    sys.stderr.write(errno.errorcode.get(failed.errno, str(failed.errno)) + "\n")
    sys.exit(1)
'

# mesh_ctl "command line": prints the JSON answer; non-zero on failure.
mesh_ctl() {
	"$PY" -c "$_MESH_CTL_PY" "$MNT/.control" "$1" "${2:-nl}"
}

# mesh_ctl_ok "command line": the command must succeed; prints the answer.
mesh_ctl_ok() {
	run mesh_ctl "$@"
	if [[ $RC -ne 0 ]]; then
		fail "control command '$1' failed ($ERR): $OUT"
	fi
	assert_eq true "$(mesh_json 'd["ok"]' <<<"$OUT")" "\"ok\" of the answer to '$1'"
	printf '%s\n' "$OUT"
}

# mesh_ctl_fails ERRNO "command line": write(2) must fail with ERRNO and the
# answer on the fd must say {"ok":false,"error":ERRNO,...}.  Sets OUT.
mesh_ctl_fails() {
	local want=$1 line=$2
	run mesh_ctl "$line"
	[[ $RC -ne 0 ]] || fail "control command '$line' succeeded, expected $want: $OUT"
	assert_eq "$want" "$ERR" "errno of write(2) for '$line'"
	assert_eq false "$(mesh_json 'd["ok"]' <<<"$OUT")" "\"ok\" of the answer to '$line'"
	assert_eq "$want" "$(mesh_json 'd["error"]' <<<"$OUT")" "\"error\" of the answer to '$line'"
	[[ -n $(mesh_json 'd["message"]' <<<"$OUT") ]] || fail "empty message in answer to '$line': $OUT"
}

# mesh_json EXPR < JSON: evaluates a python expression over d (the parsed
# JSON); strings print as they are, everything else as JSON.
mesh_json() {
	"$PY" -c '
import json, sys
src = sys.stdin.read()
try:
    d = json.loads(src)
except ValueError as e:
    sys.exit("not JSON (%s): %r" % (e, src))
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))
' "$1"
}

# mesh_commit DOMAIN/BRANCH MESSAGE: commits through the control file and
# prints the new commit id.
mesh_commit() {
	local ans
	ans=$(mesh_ctl_ok "commit $1 -m '$2'")
	mesh_json 'd["commit"]' <<<"$ans"
}

# mesh_objects: number of files under STORE/objects.
mesh_objects() {
	find "$STORE/objects" -type f | wc -l
}

# ---------------------------------------------------------------- assertions

assert_eq() {
	local want=$1 got=$2 what=${3:-value}
	if [[ $want != "$got" ]]; then
		fail "$what: expected [$want], got [$got]"
	fi
}

assert_contains() {
	local hay=$1 needle=$2 what=${3:-output}
	if [[ $hay != *"$needle"* ]]; then
		fail "$what does not contain [$needle]: [$hay]"
	fi
}

assert_not_contains() {
	local hay=$1 needle=$2 what=${3:-output}
	if [[ $hay == *"$needle"* ]]; then
		fail "$what contains [$needle]: [$hay]"
	fi
}

# assert_file_eq EXPECTED ACTUAL: same bytes.
assert_file_eq() {
	[[ -e $1 ]] || fail "missing file $1"
	[[ -e $2 ]] || fail "missing file $2"
	if ! cmp "$1" "$2" >&2; then
		fail "$2 differs from $1"
	fi
}

# assert_fails CMD...: CMD must exit non-zero; sets RC, OUT, ERR.
assert_fails() {
	run "$@"
	if [[ $RC -eq 0 ]]; then
		fail "expected failure, but succeeded: $* (stdout: $OUT)"
	fi
}

# assert_status N CMD...: CMD must exit with status N; sets RC, OUT, ERR.
assert_status() {
	local want=$1
	shift
	run "$@"
	if [[ $RC -ne $want ]]; then
		fail "expected exit status $want, got $RC: $* (stdout: $OUT; stderr: $ERR)"
	fi
}

# mesh_py [ARGS...] < SCRIPT: runs a python script with Debian's python.
mesh_py() {
	"$PY" - "$@"
}
