#!/bin/sh
# Training throughput: the default CNN in C++ (LibTorch) against the same network in Python
# PyTorch (Debian python3-torch), same threads, batch and data size, in one run. Prints both and
# the ratio (target: C++ >= Python, ratio >= 1).
#   bench/model.sh [build dir=build] [samples=320] [epochs=2] [threads=0: all cores]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
samples=${2:-320}
epochs=${3:-2}
threads=${4:-0}
# Debian's interpreter: the one python3-torch is installed for.
python=${PYTHON:-/usr/bin/python3}
cpp=$("$build/bench/bench_model_train" "$samples" "$epochs" "$threads" | awk '/cpp_samples_per_second/ {print $2}')
py=$("$python" "$here/model_torch.py" "$samples" "$epochs" "$threads" | awk '/python_samples_per_second/ {print $2}')
echo "C++ LibTorch:   $cpp samples/s"
echo "Python PyTorch: $py samples/s"
echo "ratio C++/Python: $(awk -v a="$cpp" -v b="$py" 'BEGIN {printf "%.2f", a / b}')"
