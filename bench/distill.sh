#!/usr/bin/env bash
# Issue 25, item 1: few-step students of the shipped prior (`gfpose train --distill-from`), trained
# on the CPU. Each run checkpoints every 5 minutes to a state file OUTSIDE the repository, and the
# same command resumes it (rebuilding the teacher's pool of samples from the same seed first, about
# 4 minutes). Run it again in each session until it prints the final step; then
# `python bench/distill.py` measures the students against the teacher.
#
#   bench/distill.sh [STUDENT_STEPS] [STATE_DIR]       # STUDENT_STEPS: 4 (default), 2 or 1
set -euo pipefail
k=${1:-4}; state=${2:-$HOME/.cache/gfpose/runs}
data=../shared/data
mkdir -p "$state"
args=("$data/cmu-bvh.tar.xz" "$data/hdm05-amc.tar.xz"
      --task prior --distill-from weights/prior.pt --student-steps "$k" --distill-pool 200000
      --batch-size 1000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --steps 3000
      --device cpu --checkpoint-every 300 -q
      -o "$state/prior-$k-step.state.pt" --export "$state/prior-$k-step.pt")
if [ -f "$state/prior-$k-step.state.pt" ]; then
  args+=(--resume "$state/prior-$k-step.state.pt")
fi
exec python3 -m gfpose_cli train "${args[@]}"
