#!/usr/bin/env bash
# Issue 26, stage 7 (CPU): the shipped lifter fine-tuned on all four archives of ../shared/data (the
# retargeted CMU body, HDM05's actors, and the twelve multibody bodies with one per family held out:
# data.HELD_OUT). One thread, so the machine stays usable; checkpoints every 5 minutes to a state file
# OUTSIDE the repository, and the same command resumes it (it continues to the same weights as an
# uninterrupted run). Run it again in each session until it prints the final step.
#
#   bench/train_multibody_cpu.sh [TASK] [STATE_DIR]       # TASK: lift (default), prior, complete3d
set -euo pipefail
task=${1:-lift}; state=${2:-$HOME/.cache/gfpose/runs}
data=../shared/data
mkdir -p "$state"
args=("$data/cmu-bvh.tar.xz" "$data/hdm05-amc.tar.xz" "$data/multibody-mocap.tar.xz" "$data/multibody2-mocap.tar.xz"
      --task "$task" --width 1024 --blocks 2 --batch-size 1000 --lr 3e-4 --lr-schedule cosine --warmup 500
      --ema 0.9995 --mirror --balance 0.5 --steps 30000 --device cpu --checkpoint-every 300 -q
      -o "$state/$task-mb.state.pt" --export "$state/$task-mb.pt")
if [ -f "$state/$task-mb.state.pt" ]; then
  args+=(--resume "$state/$task-mb.state.pt")
else
  args+=(--init-from "weights/$task.pt")
fi
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 exec python3 -m gfpose_cli train "${args[@]}"
