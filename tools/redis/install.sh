#!/usr/bin/env bash
# Installs redis-server from Debian's packages when it is not on PATH. The Redis tests and benchmarks start their own
# servers (a free loopback port, no persistence); this script only makes the program available. CI runs it explicitly;
# the test fixture runs it when it does not find redis-server. Safe to run concurrently (a lock serializes apt-get).
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

lock="${TMPDIR:-/tmp}/parallelexec-redis-install.lock"
exec 9>"$lock"
flock 9
# Another run may have installed it while this one waited for the lock.
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "tools/redis/install.sh: redis-server is not installed and apt-get is not available; install redis-server (7.0 or newer) and put it on PATH." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "tools/redis/install.sh: redis-server is not installed, and installing it needs root (run as root, or allow password-less sudo): apt-get install -y redis-server" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends redis-server
command -v redis-server >/dev/null 2>&1 || { echo "tools/redis/install.sh: apt-get ran but redis-server is still not on PATH." >&2; exit 1; }
redis-server --version
