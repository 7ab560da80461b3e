#!/usr/bin/env bash
# build-deb.sh - builds meshfs_VERSION_amd64.deb (Release) with CPack:
#
#   bash packaging/build-deb.sh [BUILD_DIR]     default build-deb/
#
# The package puts the program in /usr/bin, mount.meshfs in /sbin, the
# systemd unit in /lib/systemd/system and the example config in
# /etc/meshfs; the .deb is left in BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build-deb}

command -v scdoc >/dev/null || { echo "build-deb: scdoc is missing (apt-get install scdoc)" >&2; exit 1; }
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMESH_SANITIZE=OFF -DMESH_TESTS=OFF \
	-DCMAKE_INSTALL_PREFIX=/usr -DMESH_MOUNT_HELPER_DIR=/sbin \
	-DMESH_SYSTEMD_UNIT_DIR=/lib/systemd/system -DMESH_CONFIG_DIR=/etc/meshfs \
	-DCMAKE_C_FLAGS="-D_FORTIFY_SOURCE=2 -fstack-protector-strong" \
	-DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro -Wl,-z,now"
cmake --build "$BUILD" -j2 --target meshfs man
(cd "$BUILD" && cpack -G DEB)
ls "$BUILD"/meshfs_*_amd64.deb
