#!/usr/bin/env bash
# Every issue-11 figure in one run, for an idle machine (~18 min on 2 cores; see the sizes below):
#   1. CLI start-up: every command's --help (CPU and wall seconds, target < 0.5 s);
#   2. the roofline (fp32/bf16/int8 GEMM peaks at 1 and 2 threads, copy bandwidth), score-1 tok/s for the
#      naive loop and reasonrec fp32 / bf16 / int8 with their fraction of the peak, generation tok/s on 64 prompts
#      (HF decoding 32 rows per step, fp32 / bf16 / int8, vs 8 rows per step as before decode groups, vs the naive
#      loop, vs llama.cpp) with GB/s against the copy bandwidth;
#   3. score-1 under a busy-loop neighbour (fixed 1 / 2 threads, 2 + OMP PASSIVE, adaptive; adaptive idle);
#   4. LoRA SFT supervised tok/s, ours vs TRL defaults at equal steps, with validation loss;
#   5. (ACCURACY=1, +~10 min idle) the 200-prompt accuracy gate of bf16 / int8 against fp32;
#   6. the summary table (bench/speed_summary.py) of every target.
# Each step prints its command and the load average; every benchmark records the load itself and refuses ratios
# measured while other processes were busy.
#
#   bash bench/speed_all.sh                 # results in bench/results/speed_all/
#   SMOKE=1 bash bench/speed_all.sh         # tiny sizes: checks that every step runs (a minute or two)
#   ACCURACY=1 bash bench/speed_all.sh      # + the accuracy gate
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/results/speed_all}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
export REASONREC_DATA_DIR=${REASONREC_DATA_DIR:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"

if [ "${SMOKE:-0}" = 1 ]; then
  CLI=(--repeats 1) USERS=2 GEN=(--gen 1 --max-new-tokens 8) THREAD_USERS=2 GATE_N=8
  SFT=(--steps 2 --k 2 --valid 2)
else
  CLI=(--every --repeats 3) USERS=12 GEN=(--gen 64 --max-new-tokens 128) THREAD_USERS=6 GATE_N=200
  SFT=(--steps 3 --k 12 --valid 8)
fi

step() {
  echo
  echo "+ $*"
  echo "  [$(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)]"
  "$@"
}

start=$(date +%s)
step "$PY" bench/cli_startup.py "${CLI[@]}" --out "$OUT/cli_startup.json"
step "$PY" bench/llm_throughput.py --sections roofline,score,gen --workloads score-1 --kernels fp32,bf16,int8 \
  --backends hf,llamacpp --users "$USERS" "${GEN[@]}" --batch-size 8 --threads 2 --out "$OUT/llm_throughput.json"
step "$PY" bench/llm_throughput.py --sections roofline,threads --workloads score-1 --users "$THREAD_USERS" --threads 2 \
  --neighbours 1 --out "$OUT/llm_threads.json"
step "$PY" bench/sft_throughput.py "${SFT[@]}" --threads 2 --strategies trl_defaults,bs1_trl_head,bs1_accum,bs1_bf16 \
  --baseline trl_defaults --out "$OUT/sft_throughput.json"
if [ "${ACCURACY:-0}" = 1 ]; then
  step "$PY" bench/kernel_accuracy.py --n "$GATE_N" --variants bf16,int8 --out "$OUT/kernel_accuracy.json"
fi
echo
echo "total $(( $(date +%s) - start )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
step "$PY" bench/speed_summary.py "$OUT"
