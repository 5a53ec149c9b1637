#!/usr/bin/env bash
# Train the shipped checkpoints (prior, lift, complete3d) side by side within a wall-clock budget.
#
#   bench/train_weights.sh DATA OUTDIR SECONDS [DEVICE] [EXTRA gfpose-train OPTIONS...]
#
# DATA is anything `gfpose train` accepts (the two archives in ../shared/data, or a pose set
# written by gfpose_cli.training.data.save_pose_set). A 600-step calibration round measures the step
# rate with all runs sharing the device (from checkpoint times, start-up excluded), then each run gets the step count that fits SECONDS,
# so the cosine schedule ends on time. Full (resumable) checkpoints go to OUTDIR/<task>.state.pt,
# fp16 shipping copies to OUTDIR/<task>.pt. Resume a run with the printed command plus
# --resume OUTDIR/<task>.state.pt.
set -euo pipefail
data=$1; outdir=$2; seconds=$3; device=${4:-auto}; shift $(( $# < 4 ? $# : 4 ))
recipe=(--width 1024 --blocks 2 --batch-size 1000 --lr 5e-4 --lr-schedule cosine --warmup 1000 --ema 0.9995
        --mirror --balance 0.5 --device "$device" --checkpoint-every 60 -q "$@")
tasks=(prior lift complete3d)
mkdir -p "$outdir"
gf() { python3 -m gfpose_cli train "$data" "${recipe[@]}" "$@"; }

for t in "${tasks[@]}"; do gf --task "$t" --steps 600 --checkpoint-every 2 -o "$outdir/calib-$t.pt" & done
wait
# seconds per step from the checkpoint history (start-up excluded), slowest of the runs
calib_files=(); for t in "${tasks[@]}"; do calib_files+=("$outdir/calib-$t.pt"); done
read -r per_step steps < <(python3 bench/step_rate.py "${calib_files[@]}" --budget "$seconds")
rm -f "$outdir"/calib-*.pt
echo "calibration: ${per_step}s per step with ${#tasks[@]} runs sharing $device -> $steps steps each"
for t in "${tasks[@]}"; do
  echo "gfpose train $data --task $t --steps $steps ${recipe[*]} -o $outdir/$t.state.pt --export $outdir/$t.pt"
  gf --task "$t" --steps "$steps" -o "$outdir/$t.state.pt" --export "$outdir/$t.pt" > "$outdir/$t.log" 2>&1 &
done
wait
for t in "${tasks[@]}"; do tail -n 2 "$outdir/$t.log"; done
