#!/usr/bin/env bash
# Training throughput against PyTorch on the same model shape, batch and threads,
# measured in one run: build/bench_train (urial) and bench/train_torch.py (PyTorch,
# Debian's python3-torch) each do forward + backward + clipping + AdamW steps on
# random tokens; the best of R alternating repetitions of each is reported.
#
# usage: bench/train.sh [--reps R] [--steps S] [SHAPE ARGS...]
#   SHAPE ARGS as bench_train takes them, e.g. --dim 256 --layers 6 --heads 8 --kv-heads 4 --ff 768
#   --ctx 512 --vocab 8000 --batch 16 --threads 2 (these are the defaults)
# Prints a markdown table row per engine and the ratio; results go in bench/TRAIN.md.
# OMP_WAIT_POLICY defaults to passive for PyTorch's OpenMP threads (urial has its own pool).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 steps=3
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) reps=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) args+=("$1" "$2"); shift 2 ;;
    esac
done
make -s build/bench_train
# PyTorch's OpenMP wait policy, as urial's training commands used to set it for their own
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "bench/train.sh: PyTorch is missing (apt-get install -y python3-torch)" >&2
    exit 1
fi
best() { sort -t: -k2 -g | tail -1; }
u=() t=()
for r in $(seq 1 "$reps"); do
    u+=("$(build/bench_train --steps "$steps" "${args[@]}" | sed 's/.*"tok_s":\([0-9.]*\).*/\1/')")
    t+=("$(/usr/bin/python3 bench/train_torch.py --steps "$steps" "${args[@]}" | sed 's/.*"tok_s": \([0-9.]*\).*/\1/')")
    echo "rep $r: urial ${u[-1]} tok/s, pytorch ${t[-1]} tok/s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
bu=$(printf '%s\n' "${u[@]}" | sort -g | tail -1)
bt=$(printf '%s\n' "${t[@]}" | sort -g | tail -1)
blas=$(/usr/bin/python3 -c "import torch; print(torch.__config__.show())" | grep -o 'BLAS_INFO=[a-z]*' || true)
echo "| shape | ${args[*]:-defaults} (OMP_WAIT_POLICY=$OMP_WAIT_POLICY) |"
echo "| urial tokens/s (best of $reps) | $bu |"
echo "| PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') tokens/s (best of $reps; $blas, $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | sed 's|.*/\(.*\)/libblas.so.3|\1|')) | $bt |"
awk -v a="$bu" -v b="$bt" 'BEGIN { printf "| urial / PyTorch | %.2fx |\n", a / b }'
