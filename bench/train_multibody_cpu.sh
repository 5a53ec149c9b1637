#!/usr/bin/env bash
# Issue 26, CPU fine-tunes on all four archives of ../shared/data (the retargeted CMU body, HDM05's actors,
# and the twelve multibody bodies with one per family held out: data.HELD_OUT). One thread, so the machine
# stays usable; checkpoints every 5 minutes to a state file OUTSIDE the repository, and the same command
# resumes it (it continues to the same weights as an uninterrupted run). Run it again in each session until
# it prints the final step.
#
#   bench/train_multibody_cpu.sh [TASK] [STATE_DIR]       # TASK: lift (default), prior, complete3d
#
# Stage 7 (2026-12-03) ran the defaults. Stage 9 (2026-12-05, the pose-set cache v5: marker hips by
# Harrington's regression) is a shorter, gentler fine-tune of the shipped lifter under its own run name:
#   RUN=lift-v5 STEPS=6000 LR=1e-4 WARMUP=200 EMA=0.999 bench/train_multibody_cpu.sh lift
set -euo pipefail
task=${1:-lift}; state=${2:-$HOME/.cache/gfpose/runs}
run=${RUN:-$task-mb}
data=../shared/data
mkdir -p "$state"
args=("$data/cmu-bvh.tar.xz" "$data/hdm05-amc.tar.xz" "$data/multibody-mocap.tar.xz" "$data/multibody2-mocap.tar.xz"
      --task "$task" --width 1024 --blocks 2 --batch-size 1000 --lr "${LR:-3e-4}" --lr-schedule cosine
      --warmup "${WARMUP:-500}" --ema "${EMA:-0.9995}" --mirror --balance 0.5 --steps "${STEPS:-30000}" --device cpu
      --checkpoint-every 300 -q -o "$state/$run.state.pt" --export "$state/$run.pt")
if [ -f "$state/$run.state.pt" ]; then
  args+=(--resume "$state/$run.state.pt")
else
  args+=(--init-from "weights/$task.pt")
fi
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 exec python3 -m gfpose_cli train "${args[@]}"
