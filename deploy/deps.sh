#!/usr/bin/env bash
# Install the Debian packages llm-repl needs to build, test and run.
# Idempotent: packages already present are skipped. Needs root (or sudo).
set -euo pipefail

PKGS=(
  build-essential pkg-config git curl ca-certificates
  libhiredis-dev libseccomp-dev libcurl4-openssl-dev libjson-c-dev libgit2-dev libmicrohttpd-dev libssl-dev zlib1g-dev
  redis-server redis-tools redis-sentinel prometheus
  python3 python3-venv python3-pytest python3-pytest-xdist python3-redis python3-pyflakes pyflakes3 bandit radon
  cppcheck clang clang-format valgrind cmake
  libclang-rt-dev
  musl-tools musl-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
