#!/usr/bin/env bash
# Threads on a shared machine (issue 13): urial's own thread pool (this tree, "new")
# against the OpenMP build it replaced (commit b6a1905, "base"), measured in one run on
# the same model files, idle and next to a competing 1-core busy loop.
#
#   inference: `urial bench` (prefill of PROMPT tokens in one batch, GEN greedy decode
#              steps) on TinyLlama-1.1B-shaped random-weight models (urial synth, the
#              llama-spm 32000-token vocabulary) in Q4_0 and Q8_0
#   training:  build/bench_train (forward + backward + AdamW steps, its default shape)
#
# Engines: base (libgomp's default wait policy: what `urial bench`, `run`, `tds` ran
# with), base-passive (OMP_WAIT_POLICY=passive: what `sft`, `train` and `serve` set for
# themselves by re-executing), new. Each figure is the median of REPS runs; runs
# alternate between the engines (the order reversed every repetition) so that all see
# the same machine. The loaded runs have `sh -c 'while :; do :; done'` running (not
# pinned) for their whole duration.
#
# usage: bench/threads.sh [--reps 5] [--types "q4_0 q8_0"] [--prompt 128] [--gen 32]
#                         [--threads 2] [--train-steps 3] [--no-train] [--spins "0 20 200"]
#                         [--max-wait 180]
#   --spins  also build this tree with other UR_POOL_SPIN_US values (include/urial/pool.h)
#            and run them as engines new-spinN (how the default was chosen)
# Prints the tables and ratios (paste them into bench/THREADS.md); raw runs go to
# $BENCH_DIR/runs.tsv (default /tmp/urial-threads, where the base build and models are
# cached too). Run it when `uptime` shows a quiet machine: the load average is printed.
# On a machine shared with other people's builds, every run is also gated: before it,
# the script waits (up to --max-wait seconds) until other processes have used less than
# 0.1 core for two seconds, and a run during which they used more than 0.15 core on
# average (all CPU time in /proc/stat, less the run's own and the busy loop's) is thrown
# away and repeated (up to 3 times in all; then the last one counts); the busy loop is
# stopped while the script waits. Waits, repeats, and runs kept although others were busy
# are counted in the output; each run's figure for the others is the last column of
# runs.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-threads}
BASE_REV=${BASE_REV:-b6a1905}
TYPES="q4_0 q8_0"; PROMPT=128; GEN=32; REPS=5; THREADS=2; TRAIN_STEPS=3; TRAIN=1; SPINS=""; MAX_WAIT=180
while [ $# -gt 0 ]; do
    case $1 in
    --reps) REPS=$2; shift ;;
    --types) TYPES=$2; shift ;;
    --prompt) PROMPT=$2; shift ;;
    --gen) GEN=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --train-steps) TRAIN_STEPS=$2; shift ;;
    --no-train) TRAIN=0 ;;
    --spins) SPINS=$2; shift ;;
    --max-wait) MAX_WAIT=$2; shift ;;
    *) echo "bench/threads.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
mkdir -p "$BENCH_DIR"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# bench/threads.sh --reps $REPS --types \"$TYPES\" --prompt $PROMPT --gen $GEN --threads $THREADS --train-steps $TRAIN_STEPS$([ $TRAIN = 1 ] || echo ' --no-train')$([ -z "$SPINS" ] || echo " --spins \"$SPINS\"")"

# ---- the two builds ------------------------------------------------------------------
make -s all build/bench_train >/dev/null
BASE=$BENCH_DIR/base-$BASE_REV
if [ ! -x "$BASE/build/urial" ] || [ ! -x "$BASE/build/bench_train" ]; then
    rm -rf "$BASE" && mkdir -p "$BASE"
    git archive "$BASE_REV" | tar -x -C "$BASE"
    make -C "$BASE" -s -j2 all build/bench_train >/dev/null
fi
NEW=$PWD
for n in $SPINS; do
    make -s -j2 BUILD="$BENCH_DIR/spin-$n" OPT="-O2 -g -DUR_POOL_SPIN_US=$n" "$BENCH_DIR/spin-$n/urial" >/dev/null
done

# ---- models ------------------------------------------------------------------------------
VOCAB=$SHARED/fixtures/tokenizer/llama-spm/vocab-llama-spm.gguf
for t in $TYPES; do
    M=$BENCH_DIR/tinyllama-$t.gguf
    [ -f "$M" ] || build/urial synth "$M" --vocab "$VOCAB" --dim 2048 --layers 22 --heads 32 --kv-heads 4 \
        --ff 5632 --ctx 2048 --type "$t" >/dev/null
done

# ---- one run of an engine, and how much CPU others used meanwhile ---------------------------
busy_jiffies() { local a; a=($(head -n 1 /proc/stat)); echo $((a[1] + a[2] + a[3] + a[6] + a[7] + a[8])); }
loop_jiffies() { if [ -n "$BUSY" ]; then awk '{ print $14 + $15 }' "/proc/$BUSY/stat"; else echo 0; fi; }
# run ENGINE KIND [MODEL]: RESULT = "prefill decode" (inference) or "tok_s" (training);
# OTHERS = cores used by anything but this run and our busy loop, averaged over the run
# (all CPU time in /proc/stat, steal included, less the run's user + system time and the
# loop's): a build that lands in the middle of a measurement shows up here.
run() {
    local engine=$1 kind=$2 m=${3:-} dir=$NEW policy=(env -u OMP_WAIT_POLICY) cmd b0 l0 b1 l1 wall u s
    case $engine in
    base) dir=$BASE ;;
    base-passive) dir=$BASE; policy=(env OMP_WAIT_POLICY=passive) ;;
    esac
    local bin=$dir/build/urial
    case $engine in new-spin*) bin=$BENCH_DIR/spin-${engine#new-spin}/urial ;; esac
    if [ "$kind" = infer ]; then
        cmd=("$bin" bench -m "$m" --prompt "$PROMPT" --gen "$GEN" --threads "$THREADS" --json)
    else
        cmd=("$dir/build/bench_train" --steps "$TRAIN_STEPS" --threads "$THREADS")
    fi
    b0=$(busy_jiffies) l0=$(loop_jiffies)
    local TIMEFORMAT='%R %U %S'
    { time "${policy[@]}" "${cmd[@]}" >"$BENCH_DIR/run.out" 2>/dev/null; } 2>"$BENCH_DIR/run.time"
    b1=$(busy_jiffies) l1=$(loop_jiffies)
    read -r wall u s <"$BENCH_DIR/run.time"
    OTHERS=$(awk -v b="$((b1 - b0))" -v l="$((l1 - l0))" -v w="$wall" -v u="$u" -v s="$s" \
        'BEGIN { printf "%.2f", (w > 0 ? (b / 100 - l / 100 - u - s) / w : 0) }')
    if [ "$kind" = infer ]; then
        RESULT=$(tail -n 1 "$BENCH_DIR/run.out" |
            sed -n 's/.*"prefill_tok_s":\([0-9.]*\).*"decode_tok_s":\([0-9.]*\).*/\1 \2/p')
    else
        RESULT=$(sed -n 's/.*"tok_s":\([0-9.]*\).*/\1/p' "$BENCH_DIR/run.out")
    fi
}

# CPU cores busy over one second (from /proc/stat), our own busy loop included
cpu_busy() {
    local b0 b1
    b0=$(busy_jiffies); sleep 1; b1=$(busy_jiffies)
    awk -v b="$((b1 - b0))" 'BEGIN { printf "%.2f", b / 100 }'
}
WAITS=0 REDONE=0 LATE=0
# quiet EXPECTED: wait until two consecutive seconds with at most EXPECTED + 0.1 cores busy
is_quiet() { awk -v u="$(cpu_busy)" -v w="$1" 'BEGIN { exit !(u - w < 0.1) }'; }
quiet() {
    local t0=$SECONDS
    until is_quiet "$1" && is_quiet "$1"; do
        WAITS=$((WAITS + 1))
        if [ $((SECONDS - t0)) -ge "$MAX_WAIT" ]; then LATE=$((LATE + 1)); break; fi
    done
    return 0
}
# measure ENGINE KIND [MODEL]: run on a quiet machine, again (up to 3 times in all) while
# others used more than 0.15 core during the run. The busy loop (if any) is stopped while
# the script waits, so that it does not slow other people's work down for nothing.
measure() {
    local try
    for try in 1 2 3; do
        if [ -n "$BUSY" ]; then
            kill -STOP "$BUSY"
            quiet 0
            kill -CONT "$BUSY"
            sleep 0.5
        else
            quiet 0
        fi
        run "$@"
        awk -v o="$OTHERS" 'BEGIN { exit !(o < 0.15) }' && break
        REDONE=$((REDONE + 1))
    done
}

BUSY=
stop_busy() { if [ -n "$BUSY" ]; then kill "$BUSY" 2>/dev/null || true; kill -CONT "$BUSY" 2>/dev/null || true; wait "$BUSY" 2>/dev/null || true; BUSY=; fi; }
trap stop_busy EXIT
INFER=(base base-passive new)
for n in $SPINS; do INFER+=("new-spin$n"); done
ENGINES=("${INFER[@]}") # the engines rounds() runs
RUNS=$BENCH_DIR/runs.tsv
: >"$RUNS"
# REPS alternating rounds of every engine on one workload and condition; rows to runs.tsv:
#   workload condition engine rep value... others (cores used by other processes)
rounds() {
    local what=$1 cond=$2 kind=$3 m=${4:-} order
    [ "$cond" = loaded ] && { sh -c 'while :; do :; done' & BUSY=$!; }
    for r in $(seq "$REPS"); do
        order=("${ENGINES[@]}")
        [ $((r % 2)) = 1 ] || order=($(printf '%s\n' "${ENGINES[@]}" | tac))
        for e in "${order[@]}"; do
            measure "$e" "$kind" "$m"
            printf '%s\t%s\t%s\t%d\t%s\t%s\n' "$what" "$cond" "$e" "$r" "$(echo "$RESULT" | tr ' ' '\t')" "$OTHERS" \
                >>"$RUNS"
        done
    done
    stop_busy
}

for t in $TYPES; do
    rounds "$t" idle infer "$BENCH_DIR/tinyllama-$t.gguf"
    rounds "$t" loaded infer "$BENCH_DIR/tinyllama-$t.gguf"
done
ENGINES=(base base-passive new) # the spin variants are for inference only
if [ "$TRAIN" = 1 ]; then
    rounds train idle train
    rounds train loaded train
fi

# ---- medians and ratios ---------------------------------------------------------------------
# med WORKLOAD COND ENGINE COLUMN (5 = first value)
med() {
    awk -F'\t' -v w="$1" -v c="$2" -v e="$3" -v k="$4" '$1 == w && $2 == c && $3 == e && $k != "" { print $k }' "$RUNS" |
        sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
                                             else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "nan" }'; }

echo
echo "| model | engine | idle prefill | idle decode | loaded prefill | loaded decode | loaded/idle prefill | loaded/idle decode |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for t in $TYPES; do
    for e in "${INFER[@]}"; do
        ip=$(med "$t" idle "$e" 5) id=$(med "$t" idle "$e" 6) lp=$(med "$t" loaded "$e" 5) ld=$(med "$t" loaded "$e" 6)
        echo "| $t | $e | $ip | $id | $lp | $ld | $(ratio "$lp" "$ip") | $(ratio "$ld" "$id") |"
    done
done
echo
echo "| model | new / base idle prefill | new / base idle decode | new loaded/idle prefill | new loaded/idle decode | base loaded/idle prefill | base loaded/idle decode |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in $TYPES; do
    ip_b=$(med "$t" idle base 5) id_b=$(med "$t" idle base 6) ip_n=$(med "$t" idle new 5) id_n=$(med "$t" idle new 6)
    lp_b=$(med "$t" loaded base 5) ld_b=$(med "$t" loaded base 6) lp_n=$(med "$t" loaded new 5) ld_n=$(med "$t" loaded new 6)
    echo "| $t | $(ratio "$ip_n" "$ip_b") | $(ratio "$id_n" "$id_b") | $(ratio "$lp_n" "$ip_n") | $(ratio "$ld_n" "$id_n") |" \
         "$(ratio "$lp_b" "$ip_b") | $(ratio "$ld_b" "$id_b") |"
done
if [ "$TRAIN" = 1 ]; then
    echo
    echo "| training (bench_train, tokens/s) | idle | loaded | loaded/idle | idle vs base-passive |"
    echo "|---|---:|---:|---:|---:|"
    tb=$(med train idle base-passive 5)
    for e in "${ENGINES[@]}"; do
        i=$(med train idle "$e" 5) l=$(med train loaded "$e" 5)
        echo "| $e | $i | $l | $(ratio "$l" "$i") | $(ratio "$i" "$tb") |"
    done
fi
echo
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $REPS runs per figure, medians; $WAITS waits for a quiet machine ($LATE gave up after ${MAX_WAIT} s), $REDONE runs repeated, $(awk -F'\t' '$NF + 0 >= 0.15' "$RUNS" | wc -l) of $(wc -l <"$RUNS") kept with others busy (>= 0.15 core); raw runs: $RUNS"
