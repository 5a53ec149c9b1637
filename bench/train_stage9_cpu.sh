#!/usr/bin/env bash
# Stage 9 (issue 26; 2026-12-05): every shipped model fine-tuned on the pose-set cache v5 (marker C3D hips by
# Harrington's regression, the pelvis between them), on one CPU thread, in order, each resumable:
#   1. lift.pt (stage 8) -> lift-v5.pt 6,000 steps, lr 1e-4 (bench/train_multibody_cpu.sh)
#   2. its take refiner refine-v5.pt    3,000 steps (refine.pt's recipe, MODEL_CARD "Take refiner")
#   3. complete3d.pt -> complete3d-v5   6,000 steps, lr 1e-4
#   4. lift-v5.pt -> lift-bones-v5.pt   3,000 steps with the bone lengths as input (lift-bones.pt's recipe)
#   5. its take refiner refine-bones-v5.pt
#   6. prior.pt -> prior-v5             8,000 steps, lr 2e-4: the prior's first run on the multibody archives
#      (stages 1-5 saw only the CMU BVH body and HDM05)
# State and exports live in STATE_DIR (default ~/.cache/gfpose/runs, outside the repository); run the same
# command again after an interruption and it resumes the stage it was in, skipping the finished ones. Name
# stages to run only those (two invocations with different stages can share the machine's two cores).
#
#   bench/train_stage9_cpu.sh [STATE_DIR [STAGE ...]]     # e.g. bench/train_stage9_cpu.sh ~/.cache/gfpose/runs prior-v5
set -euo pipefail
# shellcheck source=bench/train_common.sh
source "$(dirname "$0")/train_common.sh" "$@"
stage8() { from_commit 8c7d91f "$1"; }  # the stage-8 weights this stage starts from

common=(--width 1024 --blocks 2 --batch-size 1000 --lr 1e-4 --lr-schedule cosine --mirror --balance 0.5 --device cpu --seed 0)
# shellcheck disable=SC2046
run lift-v5 --task lift $(init lift-v5 "$(stage8 lift)") "${common[@]}" --warmup 200 --ema 0.999 --steps 6000
run refine-v5 --task refine --lift-weights "$state/lift-v5.pt" --steps 3000 --views 4 --width 512 --dropout 0.5
# shellcheck disable=SC2046
run complete3d-v5 --task complete3d $(init complete3d-v5 "$(stage8 complete3d)") "${common[@]}" --warmup 200 --ema 0.999 --steps 6000
# shellcheck disable=SC2046
run lift-bones-v5 --task lift $(init lift-bones-v5 "$state/lift-v5.pt") --lengths 1.0 --bone-scale 0.03 --bone-corr 0.7 \
    --steps 3000 --batch-size 1000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --mirror --seed 0 --device cpu
run refine-bones-v5 --task refine --lift-weights "$state/lift-bones-v5.pt" --steps 3000 --views 4 --width 512 --dropout 0.5
# shellcheck disable=SC2046
run prior-v5 --task prior $(init prior-v5 "$(stage8 prior)") "${common[@]}" --lr 2e-4 --warmup 200 --ema 0.999 --steps 8000
echo "stage 9:${only:- every stage} finished"
