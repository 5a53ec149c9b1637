#!/usr/bin/env bash
# Everything a lent GPU is for, in one command (a lease is 15 minutes, and each start costs one or two):
# retrain the shipped checkpoints side by side within a wall-clock budget, score the results on the
# held-out subjects, then time the samplers (GPU rows of bench/speed.md).
#
#   bench/gpu_session.sh POSES OUT TRAIN_SECONDS RUN...
#
# POSES is the archives' pose set written by gfpose_cli.training.data.save_pose_set (the GPU machine has no
# ../shared). A RUN is NAME:TASK[:EXTRA], EXTRA being more `gfpose train` options joined by commas,
# e.g. lift-bs:lift:--bone-scale,0.05. Every run warm-starts from weights/TASK.pt. A short round of
# CALIB_STEPS steps with all runs sharing the device measures the step rate, so each run gets the step
# count that fits TRAIN_SECONDS and its cosine schedule ends on time. Resumable states go to $STATE_DIR
# (default /tmp/gfpose-runs), fp16 shipping copies to OUT/NAME.pt, logs to OUT/session.log.
# Afterwards, bench/accuracy.py --quick scores the new weights (OUT/accuracy-gpu.md): set A takes
# prior, lift and complete3d, set B swaps in lift-bs and complete3d-bs where those runs exist.
# DEVICE=cpu with CALIB_STEPS=5 makes a dry run on a machine without a GPU. SCORE=0 stops after training
# (no scoring, no timing), for a lease that times the samplers in a command of its own.
set -uo pipefail
poses=$1; out=$2; secs=$3; shift 3
device=${DEVICE:-cuda}; calib=${CALIB_STEPS:-400}; state=${STATE_DIR:-/tmp/gfpose-runs}
mkdir -p "$out" "$state"
export PYTHONUNBUFFERED=1
log=$out/session.log
{ date -u; nvidia-smi 2>/dev/null | head -15; python3 -c "import torch; print('torch', torch.__version__)"; } >>"$log" 2>&1
recipe=(--width 1024 --blocks 2 --batch-size 1000 --lr 3e-4 --lr-schedule cosine --warmup 500 --ema 0.9995
        --mirror --balance 0.5 --device "$device" -q)
train_cmd() {  # sets CMD for: TASK EXTRA STEPS CHECKPOINT-SECONDS OUTPUT [more options]
  local task=$1 extra=$2 steps=$3 every=$4 output=$5; shift 5
  # shellcheck disable=SC2206
  CMD=(python3 -m gfpose_cli train "$poses" --task "$task" --init-from "weights/$task.pt" "${recipe[@]}" ${extra//,/ }
       --steps "$steps" --checkpoint-every "$every" -o "$output" --force "$@")
}

calib_start=$(date +%s.%N)
for run in "$@"; do
  IFS=: read -r name task extra <<<"$run"
  train_cmd "$task" "${extra:-}" "$calib" 2 "$state/calib-$name.pt"
  "${CMD[@]}" >>"$log" 2>&1 &
done
wait
calib_wall=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$calib_start" "$(date +%s.%N)")
calib_files=(); for run in "$@"; do calib_files+=("$state/calib-${run%%:*}.pt"); done
rate=$(python3 bench/step_rate.py "${calib_files[@]}" --wall "$calib_wall" --steps "$calib" --budget "$secs") \
  || { echo "calibration failed" >>"$log"; exit 1; }
read -r per_step steps <<<"$rate"
echo "calibration: ${per_step}s per step with $# runs sharing $device -> $steps steps each" >>"$log"
for run in "$@"; do
  IFS=: read -r name task extra <<<"$run"
  train_cmd "$task" "${extra:-}" "$steps" 60 "$state/$name.state.pt" --export "$out/$name.pt"
  echo "${CMD[*]}" >>"$log"
  timeout -s TERM $((secs + 45)) "${CMD[@]}" >"$state/$name.log" 2>&1 &
done
wait
python3 - "$state" "$@" >>"$log" 2>&1 <<'PY'
import sys, torch
for run in sys.argv[2:]:
    name = run.split(":")[0]
    try:
        d = torch.load(f"{sys.argv[1]}/{name}.state.pt", weights_only=False, map_location="cpu")
    except FileNotFoundError:
        print(f"{name}: no checkpoint (see its log)")
        continue
    h = d["history"]
    print(f"{name}: step {d['step']}, {h[-1]['time'] - h[0]['time']:.0f} s between first and last checkpoint, "
          f"loss {h[-1]['loss']:.4f}, held-out loss {h[0]['val_loss']:.4f} -> {h[-1]['val_loss']:.4f}")
PY
for run in "$@"; do tail -n 3 "$state/${run%%:*}.log" >>"$log"; done

[ "${SCORE:-1}" = 1 ] || { echo "done (not scored: SCORE=0) $(date -u)" >>"$log"; exit 0; }
# score the new weights (set A: plain runs; set B: the bone-scaled ones where present)
for set in A B; do
  dir=$state/weights-$set; mkdir -p "$dir"
  for task in prior lift complete3d; do
    src=$out/$task.pt
    [ "$set" = B ] && [ -f "$out/$task-bs.pt" ] && src=$out/$task-bs.pt
    [ -f "$src" ] || src=weights/$task.pt
    ln -sf "$(realpath "$src")" "$dir/$task.pt"
  done
  echo "## set $set: $(for f in "$dir"/*.pt; do basename "$(readlink "$f")"; done | xargs)" >>"$out/accuracy-gpu.md"
  timeout 60 python3 bench/accuracy.py --quick --pose-set "$poses" --weights-dir "$dir" >>"$out/accuracy-gpu.md" 2>>"$log"
done

timeout "${SPEED_SECONDS:-90}" python3 bench/speed.py --device "$device" --full >"$out/speed-gpu.md" 2>>"$log"
echo "done $(date -u)" >>"$log"
