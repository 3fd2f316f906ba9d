#!/usr/bin/env bash
# Run the default (fast) test suite. Slow tests are marked `slow` and run from bench/.
# pytest's exit code 5 (no tests collected) is treated as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export REASONREC_DATA_DIR=${REASONREC_DATA_DIR:-$(cd .. && pwd)/shared/data}
bash scripts/ensure_chromium.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest -m "not slow" -p no:cacheprovider "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit $rc
