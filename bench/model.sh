#!/bin/sh
# Training throughput: the default CNN in C++ (LibTorch) against the same network in Python
# PyTorch (Debian python3-torch), same threads, batch and data size, in one run. The two take
# turns (ROUNDS rounds, default 3) so that load from other work falls on both alike; prints each
# round, the median of each side and the ratio of medians (target: C++ >= Python, ratio >= 1).
#   bench/model.sh [build dir=build] [samples=320] [epochs=2] [threads=0: all cores]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
samples=${2:-320}
epochs=${3:-2}
threads=${4:-0}
rounds=${ROUNDS:-3}
# Debian's interpreter: the one python3-torch is installed for.
python=${PYTHON:-/usr/bin/python3}
cpp_runs="" py_runs=""
for round in $(seq "$rounds"); do
  cpp_out=$("$build/bench/bench_model_train" "$samples" "$epochs" "$threads")
  py_out=$("$python" "$here/model_torch.py" "$samples" "$epochs" "$threads")
  cpp_fc=$(echo "$cpp_out" | awk '/cpp_fc_inputs/ {print $2}')
  py_fc=$(echo "$py_out" | awk '/python_fc_inputs/ {print $2}')
  if [ "$cpp_fc" != "$py_fc" ]; then
    echo "the networks differ: C++ has $cpp_fc fully connected inputs, Python $py_fc;" \
      "make bench/model_torch.py build NetConfig's defaults" >&2
    exit 1
  fi
  cpp=$(echo "$cpp_out" | awk '/cpp_samples_per_second/ {print $2}')
  py=$(echo "$py_out" | awk '/python_samples_per_second/ {print $2}')
  echo "round $round: C++ $cpp, Python $py samples/s"
  cpp_runs="$cpp_runs $cpp" py_runs="$py_runs $py"
done
median() { echo "$@" | tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
cpp=$(median $cpp_runs)
py=$(median $py_runs)
echo "C++ LibTorch:   $cpp samples/s (median of $rounds)"
echo "Python PyTorch: $py samples/s (median of $rounds)"
echo "ratio C++/Python: $(awk -v a="$cpp" -v b="$py" 'BEGIN {printf "%.2f", a / b}')"
