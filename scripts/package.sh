#!/usr/bin/env bash
# package.sh — build the Debian package: a Release build in build/package, then cpack.
#   scripts/package.sh            writes build/package/dhanbak_VERSION_ARCH.deb
#   sudo dpkg -i build/package/dhanbak_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/package -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/package --target dhanbak dhanbak-b2-emulator
(cd build/package && cpack -G DEB)
ls -1 build/package/dhanbak_*.deb
