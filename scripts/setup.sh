#!/usr/bin/env bash
# Installs what saxdetect needs on Debian 12 (idempotent, quiet when all is there) and builds it
# into ./build. Run as root (or with sudo) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config ccache git clang-format
  libtorch-dev
  # LibTorch does its matrix products through the system BLAS; without OpenBLAS, Debian falls
  # back to the reference BLAS, which made every convolution 10-20x slower.
  libopenblas0-pthread
  # cblas.h for our own LibTorch-free CNN (src/infer), which calls the same BLAS.
  libblas-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev ffmpeg
  libsqlite3-dev libpqxx-dev postgresql
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libpng-dev
  libfluidsynth-dev fluid-soundfont-gm musescore-general-soundfont
  googletest libgtest-dev libbenchmark-dev
  chromium wrk
)
# Node.js and npm drive the browser tests; use the machine's own when it has them (a newer
# Node than Debian's may be installed, and Debian's npm package conflicts with it).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" 2>&1 | grep -v '^\[' || true
test -x build/saxdetect || { echo "setup: build failed" >&2; exit 1; }
echo "setup: build/saxdetect is ready"
