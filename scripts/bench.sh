#!/usr/bin/env bash
# Run the benchmarks (speed/memory/quality figures live here, not in timed tests).
# Usage: scripts/bench.sh [name ...]   e.g. scripts/bench.sh data_prep baselines
# Each script prints a table and writes bench/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export REASONREC_DATA_DIR=${REASONREC_DATA_DIR:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(data_prep load_times baselines leak_detector llm_throughput)
fi
mkdir -p bench/results
for n in "${names[@]}"; do
  echo "=== bench/$n.py"
  .venv/bin/python "bench/$n.py"
done
