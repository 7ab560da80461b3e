#!/usr/bin/env bash
# bootstrap.sh - from a bare Debian 12 (as root) to a running meshfs.
#
#   bash packaging/bootstrap.sh demo   install, build Release into build/, run tools/demo.sh
#   bash packaging/bootstrap.sh test   install, build with ASan+UBSan into build-test/, run ctest
#
# Works without a terminal or stdin (CI=true); safe to run again: apt is
# skipped when every package is already installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGES=(libfuse3-dev fuse3 librocksdb-dev libzstd-dev libssl-dev check
          cmake pkg-config build-essential sqlite3 python3-pandas
          fio fuse-overlayfs git zstd python3-numpy    # this line: bench/run --quick
          clang-14 libclang-rt-14-dev                  # tests/fuzz (libFuzzer)
          python3-pip python3-setuptools python3-wheel # test_python_client (pip install)
          libmicrohttpd-dev chromium                   # meshfs serve; test_serve.sh
          libyaml-dev libcsv-dev libjansson-dev        # data contracts, product cards (libyaml)
          libsqlite3-dev                               # catalog search: FTS5 with bm25 ranking
          nodejs                                       # test_duckdb (npm @duckdb/node-api)
          scdoc man-db bsdextrautils                   # man pages, tests/integration/test_man.sh
          lintian systemd)                             # tests/integration/test_deb.sh
# Debian's nodejs comes without npm; NodeSource's carries it and conflicts
# with Debian's npm package, so npm is only asked for when it is missing.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

usage() {
	echo "usage: bash packaging/bootstrap.sh demo|test" >&2
	exit 2
}

log() {
	printf '\n==> %s\n' "$*"
}

# Root runs apt directly; anyone else needs sudo for it.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "bootstrap: need root (or sudo) to run: $*" >&2
		exit 1
	fi
}

missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			echo "$pkg"
		fi
	done
}

install_packages() {
	local missing
	missing=$(missing_packages)
	if [[ -z $missing ]]; then
		log "packages already installed"
		return 0
	fi
	# shellcheck disable=SC2086  # one package name per word
	log "installing:" $missing
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -q </dev/null
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing </dev/null
}

# FUSE needs the kernel module and /dev/fuse; containers may lack either.
ensure_fuse() {
	if [[ ! -e /dev/fuse ]]; then
		if command -v modprobe >/dev/null 2>&1; then
			as_root modprobe fuse 2>/dev/null || true
		fi
	fi
	if [[ ! -e /dev/fuse ]] && grep -qw fuse /proc/filesystems 2>/dev/null; then
		as_root mknod -m 0666 /dev/fuse c 10 229 2>/dev/null || true
	fi
	if [[ ! -c /dev/fuse ]]; then
		echo "bootstrap: warning: /dev/fuse is missing; mounting will fail" \
		     "(in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN)" >&2
	fi
}

jobs_count() {
	nproc 2>/dev/null || echo 2
}

build() {
	local dir=$1
	shift
	log "building into $dir"
	cmake -S "$ROOT" -B "$dir" "$@"
	cmake --build "$dir" -j "$(jobs_count)"
}

mode_demo() {
	install_packages
	ensure_fuse
	# Warnings stay visible but do not stop the demo; `test` keeps -Werror.
	build "$ROOT/build" -DCMAKE_BUILD_TYPE=Release -DMESH_WERROR=OFF
	log "running the demo"
	MESHFS_BIN="$ROOT/build/meshfs" bash "$ROOT/tools/demo.sh"
}

mode_test() {
	install_packages
	ensure_fuse
	build "$ROOT/build-test" -DMESH_SANITIZE=ON
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	log "running the tests"
	local rc=0
	ctest --test-dir "$ROOT/build-test" --output-on-failure -j1 || rc=$?
	exit "$rc"
}

case ${1:-} in
demo) mode_demo ;;
test) mode_test ;;
*) usage ;;
esac
