#!/usr/bin/env bash
# Stage 10 (issue 26 item 2; 2026-12-05): the performer's bone lengths as an input to the prior and to
# complete3d, as lift-bones.pt has them for lifting. Each model is warm-started from the shipped stage-9
# weights (taken out of commit e2438a2, so a rerun after they are replaced redoes the same stage) with the
# length input's weights at zero, and fine-tuned on the v5 pose set with random correlated body proportions
# (--bone-scale 0.03 --bone-corr 0.7), 80 % of the rows seeing their pose's bone lengths (the rest none: the
# network also works without them), on one CPU thread each, resumable:
#   1. prior.pt      -> prior-bones-v5.pt       3,000 steps, lr 1e-4
#   2. complete3d.pt -> complete3d-bones-v5.pt  3,000 steps, lr 1e-4
# State and exports live in STATE_DIR (default ~/.cache/gfpose/runs, outside the repository); the same command
# resumes a stopped stage and skips finished ones; name stages to run only those (two invocations, one stage
# each, share the machine's two cores).
#
#   bench/train_stage10_cpu.sh [STATE_DIR [STAGE ...]]     # e.g. bench/train_stage10_cpu.sh ~/.cache/gfpose/runs prior-bones-v5
set -euo pipefail
# shellcheck source=bench/train_common.sh
source "$(dirname "$0")/train_common.sh" "$@"
stage9() { from_commit e2438a2 "$1"; }  # the stage-9 weights this stage starts from

common=(--width 1024 --blocks 2 --batch-size 1000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --mirror
        --balance 0.5 --device cpu --seed 0 --lengths 0.8 --bone-scale 0.03 --bone-corr 0.7 --steps 3000)
# shellcheck disable=SC2046
run prior-bones-v5 --task prior $(init prior-bones-v5 "$(stage9 prior)") "${common[@]}"
# shellcheck disable=SC2046
run complete3d-bones-v5 --task complete3d $(init complete3d-bones-v5 "$(stage9 complete3d)") "${common[@]}"
echo "stage 10:${only:- every stage} finished"
