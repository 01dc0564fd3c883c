# Shared by the scripts: where the project is, and installing what a build needs.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# ensure_packages PKG...: installs the Debian packages that are missing (as root), or prints the exact
# command to run and fails (as another user).
ensure_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

BUILD_PACKAGES=(g++ cmake ninja-build libcli11-dev nlohmann-json3-dev)
TEST_PACKAGES=(libgtest-dev libgmock-dev python3-numpy python3-pytest)
# scripts/install-python: the venv and pip, the build backend and pybind11, Python's headers
PYTHON_PACKAGES=(python3-venv python3-pip python3-setuptools python3-wheel pybind11-dev python3-dev python3-numpy)
# scripts/test-aarch64: the cross toolchain, qemu-user to run its binaries, GoogleTest's sources
AARCH64_PACKAGES=(g++-aarch64-linux-gnu qemu-user googletest cmake ninja-build)

# configure_and_build DIR [CMAKE_ARGS...]: quiet when it works; the whole log when it does not.
configure_and_build() {
  local dir=$1 log
  shift
  mkdir -p "$dir"
  log="$dir/build.log"
  if ! { cmake -S "$ROOT" -B "$dir" -G Ninja "$@" && cmake --build "$dir" -j "$JOBS"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "build failed in $dir (log: $log)" >&2
    return 1
  fi
}
