"""Build examples/openpose_walk/: an OpenPose BODY_25 output folder of a real take, for the README's
"Lifting a video" section. The take is CMU 12_01 (a walk; subject 12 is held out of gfpose's
training) from ../shared/data/cmu-bvh.tar.xz, at 30 Hz, seen by a still camera 5 m away (1000 x 1000
pixels, focal 1000 px), with what a detector adds: 3 px noise, confidences 0.6-0.95, the left wrist
lost for 8 frames and the arms' left and right swapped in one frame. Beside it,
examples/walk_performer.bvh: the first 30 frames of another take of the same performer (CMU 12_02),
for `gfpose lift --skeleton`.

    python examples/make_openpose_walk.py            # rewrites examples/openpose_walk/ and walk_performer.bvh
"""
from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gfpose_cli import io  # noqa: E402
from gfpose_cli.core.skeleton import JOINTS  # noqa: E402
from gfpose_cli.kinematics.cameras import still_camera_view  # noqa: E402

BODY25 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
          "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
          "LHeel", "RBigToe", "RSmallToe", "RHeel")


def body25(p: np.ndarray) -> np.ndarray:
    """BODY_25 points (F, 25, 3) from gfpose's 17 joints (the inverse of io/maps/openpose25.toml;
    ears beside the head, eyes before it, toes and heels at the ankles)."""
    j = {name: p[:, i] for i, name in enumerate(JOINTS)}
    side = (j["LShoulder"] - j["RShoulder"]) / np.linalg.norm(j["LShoulder"] - j["RShoulder"], axis=-1, keepdims=True)
    face = j["Neck"] - j["Thorax"]
    out = {"Nose": j["Neck"], "Neck": j["Thorax"], "MidHip": j["Pelvis"],
           "REar": j["Head"] - 0.07 * side, "LEar": j["Head"] + 0.07 * side,
           "REye": j["Neck"] + 0.3 * face - 0.03 * side, "LEye": j["Neck"] + 0.3 * face + 0.03 * side}
    for name in ("RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee", "RAnkle",
                 "LHip", "LKnee", "LAnkle"):
        out[name] = j[name]
    for s in "LR":
        out[f"{s}BigToe"] = out[f"{s}SmallToe"] = out[f"{s}Heel"] = j[f"{s}Ankle"]
    return np.stack([out[k] for k in BODY25], 1)


def write_first_frames(bvh_text: str, path: Path, n: int) -> None:
    """A BVH with its hierarchy and first n frames: the performer's skeleton in a few kilobytes."""
    head, motion = bvh_text.split("MOTION", 1)
    lines = motion.strip().splitlines()
    frames = [ln for ln in lines[2:] if ln.strip()][:n]
    path.write_text(head + "MOTION\n" + f"Frames: {len(frames)}\n" + lines[1].strip() + "\n" + "\n".join(frames) + "\n")


def main() -> None:
    archive = HERE.parent.parent / "shared" / "data" / "cmu-bvh.tar.xz"
    with tarfile.open(archive, "r:*") as tar, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "12_01.bvh"
        path.write_bytes(tar.extractfile("cmu-bvh/12/12_01.bvh").read())
        take = io.read(path, skeleton_map="cmu-bvh")
        other = tar.extractfile("cmu-bvh/12/12_02.bvh").read().decode()
    write_first_frames(other, HERE / "walk_performer.bvh", 30)
    pos = take.positions[1 :: int(round(take.fps / 30))].astype(np.float64)  # frame 0 is the T-pose
    pixels, _ = still_camera_view(body25(pos), 40.0, 12.0, 5.0)
    rng = np.random.default_rng(0)
    pixels += rng.normal(0, 3.0, pixels.shape)
    conf = rng.uniform(0.6, 0.95, pixels.shape[:2])
    lwrist, arms = BODY25.index("LWrist"), [BODY25.index(n) for n in ("RShoulder", "RElbow", "RWrist")]
    conf[40:48, lwrist] = 0.0  # lost: OpenPose writes zeros
    pixels[40:48, lwrist] = 0.0
    left = [BODY25.index("L" + BODY25[i][1:]) for i in arms]
    pixels[90, arms + left] = pixels[90, left + arms]
    folder = HERE / "openpose_walk"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*_keypoints.json"):
        old.unlink()
    for f in range(len(pixels)):
        flat = np.concatenate([pixels[f], conf[f, :, None]], -1).round(2).ravel().tolist()
        (folder / f"walk_{f:012d}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}))
    print(f"{len(pixels)} frames written to {folder}")


if __name__ == "__main__":
    main()
