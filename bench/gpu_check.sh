#!/usr/bin/env bash
# One-shot GPU check: the tensor tests on CUDA, every bench script on CUDA and the quick book with
# device=cuda, then one summary (status, seconds and the ratio lines each bench prints).
# Meant to finish in under 8 minutes on one GPU; each step has its own time limit and a failing
# step does not stop the others.
#
#   bash bench/gpu_check.sh [LOGDIR]      # default LOGDIR: /tmp/imgleak-gpu-check (new or empty)
#   DEVICE=cpu bash bench/gpu_check.sh    # the same steps on the CPU (a dry run of the script: slow)
#   ONLY='tests|mi' bash bench/gpu_check.sh   # only the steps whose name matches
#
# PYTHON chooses the interpreter (default: .venv/bin/python when present, else python3); the
# repository's lib/ is put first on PYTHONPATH so the checked-out library is the one measured.
# Needs the project's dependencies except jupyter-book (the book is executed, not rendered:
# `imgleak book --no-html`).
set -u
cd "$(dirname "$0")/.."
LOG=${1:-/tmp/imgleak-gpu-check}
if [ -e "$LOG" ] && [ -n "$(ls -A "$LOG" 2>/dev/null)" ]; then
    echo "gpu_check: $LOG exists and is not empty: give a new folder" >&2
    exit 2
fi
mkdir -p "$LOG"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export DEVICE=${DEVICE:-cuda}
export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg HF_HUB_OFFLINE=1
export MPLCONFIGDIR="$LOG/.matplotlib"
SUMMARY="$LOG/summary.tsv"
printf 'step\tstatus\tseconds\n' >"$SUMMARY"

# step NAME LIMIT_S COMMAND...: run COMMAND with a time limit, its output in LOG/NAME.log
# (skipped when ONLY, an extended regular expression, is set and does not match NAME).
step() {
    local name=$1 limit=$2 start rc status
    shift 2
    if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return 0; fi
    start=$EPOCHREALTIME
    timeout --kill-after=10 "$limit" "$@" >"$LOG/$name.log" 2>&1
    rc=$?
    case $rc in 0) status=ok ;; 124 | 137) status="timeout(${limit}s)" ;; *) status="failed(rc=$rc)" ;; esac
    awk -v n="$name" -v s="$status" -v a="$start" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%s\t%s\t%.1f\n", n, s, b - a }' >>"$SUMMARY"
    echo "[$(date +%T)] $name: $status"
}

"$PYTHON" - >"$LOG/environment.log" 2>&1 <<'PY'
import os, platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, {os.cpu_count()} CPUs")
if os.environ["DEVICE"] == "cpu":
    print("DEVICE cpu (dry run)")
else:
    assert torch.cuda.is_available(), "no CUDA device: this script checks the GPU path (DEVICE=cpu: a dry run)"
    props = torch.cuda.get_device_properties(0)
    print(f"DEVICE {props.name}, {props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs")
PY
cat "$LOG/environment.log"
if ! grep -q '^DEVICE ' "$LOG/environment.log"; then
    echo "gpu_check: no usable device (see above)" >&2
    exit 3
fi

# 1. The tensor tests on $DEVICE (the HTML book tests need Sphinx and a browser: left to CI) and, at
#    the same time on the other CPU cores, the quick book with device=$DEVICE.
XDIST=()
if "$PYTHON" -c "import xdist" 2>/dev/null; then XDIST=(-n 6); fi
OMP_NUM_THREADS=2 step tests 300 "$PYTHON" -m pytest --device "$DEVICE" -q -p no:cacheprovider "${XDIST[@]}" \
    --ignore=tests/book -W ignore::DeprecationWarning &
step book_quick 300 "$PYTHON" -m imgleak.cli book --profile quick --force --no-html -p device "$DEVICE" &
wait

# 2. Every bench script on $DEVICE, one after the other (their timings must not share the device).
step bench_selective 60 "$PYTHON" bench/selective.py --device "$DEVICE" --repeats 3
step bench_rvt 60 "$PYTHON" bench/rvt.py --device "$DEVICE" --repeats 5
step bench_attacks 90 "$PYTHON" bench/attacks.py --device "$DEVICE" --repeats 3
step bench_mi 60 "$PYTHON" bench/mi.py --device "$DEVICE"
step bench_mi_sweep 90 "$PYTHON" bench/mi_sweep.py --device "$DEVICE" --epochs 5
# the chapter's estimators on every task (all objectives x critics: about 15 minutes on a GPU)
step bench_mi_accuracy 150 "$PYTHON" bench/mi_accuracy.py --device "$DEVICE" --estimators mine,smile,infonce/separable
step bench_scorecard 120 "$PYTHON" bench/scorecard.py --device "$DEVICE" --budget quick --resume-repeats 1 \
    --schemes identity one_time_pad selective-4 rvt-faithful tn_model --out "$LOG/scorecard"

# 3. One summary.
{
    echo
    echo "== summary ($(date '+%F %T'), $(grep -h '^DEVICE ' "$LOG/environment.log"))"
    column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
    echo
    echo "-- tests:"
    grep -E '(passed|failed|error)' "$LOG/tests.log" 2>/dev/null | tail -n 1
    grep -E '^(FAILED|ERROR) ' "$LOG/tests.log" 2>/dev/null | head -n 20
    echo "-- quick book (device=$DEVICE):"
    grep -E 'done in|failed|Error' "$LOG/book_quick.log" 2>/dev/null | head -n 12
    for log in "$LOG"/bench_*.log; do
        echo "-- $(basename "$log" .log):"
        grep -E -i '(ratio|speed-up|÷|[0-9]x\b|[0-9]×|target|within|miss|equal|identical)' "$log" | head -n 14
        grep -E -i 'error|traceback' "$log" | tail -n 2
    done
} | tee "$LOG/summary.txt"
