#!/usr/bin/env bash
# Issue 25's GPU rows in one lease (bench/results/speed.md, "GPU, bf16"): the sampler rows at a GPU-sized
# batch, then `generate` timed in one process per torch.compile setting and batch size. Each step has its
# own time limit, so a slow build cannot eat the lease.
#
#   bench/gpu_speed.sh OUT        # on the lent machine; OUT gets one markdown file per setting and a log
set -u
out=$1; mkdir -p "$out"
export PYTHONUNBUFFERED=1
run() {  # SECONDS NAME bench/speed.py-options...
  local t=$1 name=$2; shift 2
  timeout "$t" python3 bench/speed.py --device cuda "$@" -o "$out/$name.md" >>"$out/speed.log" 2>&1 || echo "$name: exit $?" >>"$out/speed.log"
}
nvidia-smi >>"$out/speed.log" 2>&1
run 120 rows-131k --batch-size 131072 --full --gen-n 177200 1000000
run 45 plain-262k --no-rows --full --batch-size 262144 --gen-n 1000000 2000000
run 60 default-262k --no-rows --full --batch-size 262144 --compile --compile-mode default --gen-n 177200 1000000 2000000
run 75 ro-131k --no-rows --full --batch-size 131072 --compile --compile-mode reduce-overhead --gen-n 177200 1000000 2000000
run 75 ro-262k --no-rows --full --batch-size 262144 --compile --compile-mode reduce-overhead --gen-n 177200 1000000 2000000
run 110 mat-262k --no-rows --full --batch-size 262144 --compile --compile-mode max-autotune-no-cudagraphs --gen-n 177200 1000000 2000000
