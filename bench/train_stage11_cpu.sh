#!/usr/bin/env bash
# Stage 11 (issues 24 and 26; 2026-12-06): the take refiner of the stage-9 lifter, trained on lifted takes
# of bodies it was not trained on. Each lifted training stretch is first given a body of its own (one set of
# correlated bone factors for the whole stretch, --bone-scale 0.03 --bone-corr 0.7: the spread the stage-10
# prior and lift-bones.pt were trained with), so the refiner learns to correct the lifter where the body is
# not one it knows, which is what an unseen performer is. Otherwise refine.pt's recipe (stage 9), on one CPU
# thread, resumable:
#   1. refine-shape-v5.pt   3,000 steps, lifter: weights/lift.pt of commit 4a755ef (stage 9)
# State and exports live in STATE_DIR (default ~/.cache/gfpose/runs, outside the repository); the same command
# resumes a stopped stage and skips a finished one.
#
#   bench/train_stage11_cpu.sh [STATE_DIR [STAGE ...]]
set -euo pipefail
# shellcheck source=bench/train_common.sh
source "$(dirname "$0")/train_common.sh" "$@"

run refine-shape-v5 --task refine --lift-weights "$(from_commit 4a755ef lift)" --steps 3000 --views 4 --width 512 \
    --dropout 0.5 --bone-scale 0.03 --bone-corr 0.7
echo "stage 11:${only:- every stage} finished"
