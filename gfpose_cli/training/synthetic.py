"""Synthetic training sets: generated 3D poses with K virtual-camera views, as one NPZ or a folder.

Layout of every NPZ (one file, or each shard of a folder):

  poses       (N, 17, 3)    float32  metres, Z up, pelvis at the origin (the 17 gfpose joints)
  poses_2d    (N, K, 17, 2) float32  pixels in each view
  visible     (N, K, 17)    bool     joint in front of the camera and inside the image
  cam_K       (N, K, 3, 3)  float32  intrinsics (focal lengths, principal point)
  cam_R       (N, K, 3, 3)  float32  world-to-camera rotation: x_cam = cam_R @ X + cam_t
  cam_t       (N, K, 3)     float32  (camera frame x right, y down, z forward; as in OpenCV)
  image_size  (2,)          int32    width, height in pixels
  joints, fps, mask                  as in every gfpose NPZ, so other commands read the poses

A folder holds shard_00000.npz ... and manifest.json (counts, seed, weights hash, cameras).
`SyntheticPoses(path)` loads either form for PyTorch.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from bisect import bisect_right
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError, OutputError
from gfpose_cli.util.atomic import atomic_path
from gfpose_cli.io.npz import save_npz
from gfpose_cli.core.skeleton import JOINTS

SHARD_POSES = 50_000


def dataset_arrays(poses: np.ndarray, cams: dict | None, fps: float = 30.0) -> dict[str, np.ndarray]:
    """The NPZ arrays for poses (N, 17, 3) and their cameras (see cameras.project)."""
    from gfpose_cli.kinematics.cameras import project

    arrays: dict[str, np.ndarray] = {"poses": poses.astype(np.float32), "joints": np.array(JOINTS),
                                     "fps": np.float32(fps), "mask": np.isfinite(poses).all(-1)}
    if cams is not None:
        uv, visible = project(poses.astype(np.float64), cams)
        arrays.update(poses_2d=uv, visible=visible, cam_K=cams["K"].astype(np.float32),
                      cam_R=cams["R"].astype(np.float32), cam_t=cams["t"].astype(np.float32),
                      image_size=np.asarray(cams["image_size"], np.int32))
    return arrays


def write_dataset(poses: np.ndarray, fps: float, output: Path, kind: str, views: dict | None, force: bool,
                  job: dict, seed: int, targets: np.ndarray | None = None) -> str:
    """Poses (N, 17, 3) with the views asked for ({'rig': arrays, 'file': path} or {'ranges': CameraRanges,
    'k': K}) as one NPZ (kind 'npz') or a dataset folder with a manifest (kind 'folder'); returns a note.

    Random cameras look at targets (N, 3) when poses are placed in the world, else at the origin."""
    from gfpose_cli.kinematics import cameras as cam_mod

    manifest = {"format": "gfpose-synthetic", "version": 1, "fps": fps, **job, "cameras": None}
    cams = None
    if views and "rig" in views:
        cams = cam_mod.fixed_cameras(views["rig"], len(poses))
        manifest["cameras"] = {"rig": views["file"], "digest": cam_mod.rig_digest(views["rig"]),
                               "views": int(views["rig"]["K"].shape[0])}
    elif views:
        cams = cam_mod.random_cameras(len(poses), views["k"], seed, views["ranges"], targets=targets)
        manifest["cameras"] = {"views": views["k"], "random": views["ranges"].describe()}
    arrays = dataset_arrays(poses, cams, fps)
    if kind == "folder":
        note = f"{len(write_folder(arrays, output, manifest, force))} shards and manifest.json"
    else:
        write_npz(arrays, output, force)
        note = ""
    if cams is not None:
        note += ("; " if note else "") + (f"{cams['K'].shape[1]} views per pose, "
                                          f"{float(arrays['visible'].mean()):.1%} of joints inside the image")
    return note


def _slice(arrays: dict[str, np.ndarray], a: int, b: int) -> dict[str, np.ndarray]:
    n = len(arrays["poses"])
    return {k: v[a:b] if v.ndim and v.shape[0] == n and k not in ("joints", "image_size") else v
            for k, v in arrays.items()}


def write_npz(arrays: dict[str, np.ndarray], path: Path, force: bool) -> None:
    with atomic_path(path, force) as tmp, open(tmp, "wb") as fh:
        save_npz(fh, arrays)


def write_folder(arrays: dict[str, np.ndarray], folder: Path, manifest: dict, force: bool,
                 shard_poses: int = SHARD_POSES) -> list[str]:
    """Write shards and manifest.json into a hidden folder beside the target, then swap it in, so
    a killed job or a full disk never leaves a half dataset under the target's name."""
    folder = Path(folder)
    if folder.exists() and not force:
        raise InputError(f"{folder}: output exists; pass {{force}} to overwrite it")
    if folder.exists() and not (folder / "manifest.json").exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: is a non-empty folder that is not a gfpose dataset; choose another -o")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a dataset gets the user's usual mode
    n = len(arrays["poses"])
    names = []
    try:
        for i, a in enumerate(range(0, n, shard_poses)):
            names.append(f"shard_{i:05d}.npz")
            with open(tmp / names[-1], "wb") as fh:
                save_npz(fh, _slice(arrays, a, min(a + shard_poses, n)))
        files = [{"file": name, "poses": min(shard_poses, n - i * shard_poses)} for i, name in enumerate(names)]
        (tmp / "manifest.json").write_text(json.dumps({**manifest, "poses": n, "shards": files}, indent=1))
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{folder}: could not be written ({exc.strerror or exc}); nothing was left behind") from None
        raise
    return names


class SyntheticPoses:
    """A PyTorch-style dataset over a synthetic NPZ or dataset folder.

    ds[i] is a dict of tensors: pose (17, 3), pose_2d (K, 17, 2), visible (K, 17), K, R, t (per view).
    Shards are loaded when first touched and the last `cache` of them are kept, so a 10M-pose
    folder streams; shuffle within shards (or sort indices by shard) for speed.

        from torch.utils.data import DataLoader
        from gfpose_cli.synthetic import SyntheticPoses
        loader = DataLoader(SyntheticPoses("synth/"), batch_size=1024, shuffle=True)
    """

    KEYS = {"poses": "pose", "poses_2d": "pose_2d", "visible": "visible", "cam_K": "K", "cam_R": "R", "cam_t": "t"}

    def __init__(self, path: str | Path, cache: int = 2) -> None:
        path = Path(path)
        if path.is_dir():
            manifest_path = path / "manifest.json"
            try:
                self.manifest = json.loads(manifest_path.read_text())
                self.files = [path / s["file"] for s in self.manifest["shards"]]
                counts = [int(s["poses"]) for s in self.manifest["shards"]]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{manifest_path}: not a gfpose dataset manifest ({exc})") from None
        else:
            self.manifest, self.files = {}, [path]
            with np.load(path, allow_pickle=False) as data:
                counts = [len(data["poses"])]
        self.starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
        self.cache: dict[int, dict[str, np.ndarray]] = {}
        self.cache_size = max(1, cache)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _shard(self, s: int) -> dict[str, np.ndarray]:
        if s not in self.cache:
            with np.load(self.files[s], allow_pickle=False) as data:
                self.cache[s] = {k: data[k] for k in self.KEYS if k in data.files}
            while len(self.cache) > self.cache_size:
                self.cache.pop(next(iter(self.cache)))
        return self.cache[s]

    def __getitem__(self, i: int) -> dict:
        import torch

        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        s = bisect_right(self.starts, i) - 1
        shard = self._shard(s)
        return {name: torch.from_numpy(np.asarray(shard[key][i - self.starts[s]])) for key, name in self.KEYS.items()
                if key in shard}

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything at once as numpy arrays (fits in memory up to a few million poses)."""
        parts = [dict(self._shard(s)) for s in range(len(self.files))]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
