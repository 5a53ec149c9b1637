#!/usr/bin/env bash
# Issue 25, item 1: few-step students of the shipped prior (`gfpose train --distill-from`), trained
# on the CPU. Each run checkpoints every 5 minutes to a state file OUTSIDE the repository, and the
# same command resumes it (rebuilding the teacher's pool of samples from the same seed first, about
# 4 minutes). Run it again in each session until it prints the final step; then
# `python bench/distill.py` measures the students against the teacher.
#
#   bench/distill.sh [STUDENT_STEPS] [BONE_WEIGHT] [STATE_DIR]   # STUDENT_STEPS: 4 (default), 2 or 1;
#                                                               # BONE_WEIGHT: 0 (default) or e.g. 1
set -euo pipefail
k=${1:-4}; bones=${2:-0}; state=${3:-$HOME/.cache/gfpose/runs}
steps=${STEPS:-3000}; pool=${POOL:-200000}   # the shipped comparison: STEPS=1000 POOL=50000 for the bone-term variant
name="prior-$k-step"
if [ "$bones" != "0" ]; then name="$name-bones$bones"; fi
data=../shared/data
mkdir -p "$state"
args=("$data/cmu-bvh.tar.xz" "$data/hdm05-amc.tar.xz"
      --task prior --distill-from weights/prior.pt --student-steps "$k" --distill-pool "$pool" --distill-bones "$bones"
      --batch-size 1000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --steps "$steps"
      --device cpu --checkpoint-every 300 -q
      -o "$state/$name.state.pt" --export "$state/$name.pt")
if [ -f "$state/$name.state.pt" ]; then
  args+=(--resume "$state/$name.state.pt")
fi
exec python3 -m gfpose_cli train "${args[@]}"
