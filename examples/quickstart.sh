#!/usr/bin/env bash
# A tour of every subcommand on files the tour makes itself (run from anywhere after `pip install .`).
set -euo pipefail
out=${1:-gfpose-tour}
mkdir -p "$out" && cd "$out"
gfpose generate --n 200 --seed 1 -o poses.npz --force                 # 200 plausible poses (Z up, metres)
python3 - <<'PY'
# Make a 2D keypoint file (a virtual camera's view) and a partial 3D take from the generated poses.
import numpy as np, torch
from gfpose_cli import io
from gfpose_cli.core.take import Take
from gfpose_cli.model.problem import view_from_cameras
poses = io.read("poses.npz").positions
cam3d, kp = view_from_cameras(torch.from_numpy(poses), torch.Generator().manual_seed(0))
io.write(Take(positions=kp.numpy()), "keypoints.csv")
io.write(Take(positions=cam3d.numpy()), "camera_truth.npz")
partial = poses.copy(); partial[:, [12, 13]] = np.nan                  # left elbow and wrist lost
io.write(Take(positions=partial), "partial.npz")
noisy = poses + np.random.default_rng(0).normal(0, 0.02, poses.shape).astype(np.float32)
io.write(Take(positions=noisy), "noisy.npz")
PY
gfpose lift keypoints.csv -o lifted.npz --hypotheses 5 --force          # (200, 5, 17, 3)
gfpose evaluate lifted.npz camera_truth.npz                             # P1, P2, minMPJPE, PCK, ...
gfpose complete partial.npz -o completed.npz --force
gfpose evaluate completed.npz poses.npz
gfpose denoise noisy.npz -o denoised.npz --t0 0.1 --force
gfpose evaluate denoised.npz poses.npz --json
