#!/usr/bin/env bash
# install-deps.sh — install everything dhanbak needs to build and test, from Debian 12 packages.
# Idempotent: when every package is already installed it does nothing (no network).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  clang libclang-rt-14-dev  # the sanitizer build's compiler (scripts/test.sh)
  libpq-dev libzstd-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev
  libcxxopts-dev doctest-dev libtomlplusplus-dev nlohmann-json3-dev libcpp-httplib-dev
  postgresql postgresql-contrib
  backblaze-b2 python3 python3-b2sdk python3-aiosmtpd openssl
  ca-certificates procps util-linux systemd prometheus dpkg-dev adduser
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The postgresql package starts a cluster of its own on port 5432; dhanbak's scripts and tests
# never use it (they start throwaway clusters on free ports), so don't let it start.
policy_created=no
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
  policy_created=yes
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ $policy_created == yes ]]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
echo "install-deps: done"
