"""Golden outputs: every subcommand on real files (tests/data/vendors) with fixed seeds, compared
with the outputs recorded in tests/data/golden.npz.

This guards refactors (issue 22: "behaviour does not change"): the numbers of every output must
stay as recorded. Float outputs are compared to 1e-5 (relative) plus 3e-4 of the array's largest
value: a CPU with other vector kernels (an AMD EPYC against the Intel the file was recorded on) moves
fp32 samples by up to 4e-5 of it after the sampler's steps, while a change of behaviour moves them by
millimetres. Text and integer outputs compare exactly; the numbers written into a text header (a BVH's
OFFSETs) as floats; a BVH's motion as the rotation and translation each joint's channels give (Euler
angles near gimbal lock turn by tenths of a degree between CPUs for the same rotation). After an
intended change of behaviour, record anew with

    GFPOSE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

(only the outputs that moved are re-recorded) and say in the commit why they moved.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from .test_cli import run as run_cli

DATA = Path(__file__).parent / "data"
VENDORS = DATA / "vendors"
GOLDEN = DATA / "golden.npz"
C3D = VENDORS / "pycgm__RoboStatic.c3d"
BVH = VENDORS / "bvhpy__test_mocapbank.bvh"
BIND_BVH = VENDORS / "dme__blender_rendering_example.bvh"
FAST = ["--steps", "4", "--seed", "3", "-q"]
NUMBER = r"-?\d+\.?\d*(?:[eE][-+]?\d+)?"
#: float outputs may move by this share of their largest value from one CPU's kernels to another's
ACROSS_CPUS = 3e-4
#: a BVH joint's rotation (matrix entries) may move this much between CPUs: a bone swung nearly half a
#: turn from its rest direction (the few-step samples of `generate` hold such poses) has a rotation axis
#: that a last-digit change of the pose turns by a tenth of a degree (an AMD EPYC against an Intel:
#: 0.0026 on generate_bvh's spine), while the joints' positions (world_positions, from every joint's
#: channels) stay to ACROSS_CPUS
ROTATIONS_ACROSS_CPUS = 1e-2


def run(argv: list[str], capsys) -> str:
    """stdout of `gfpose argv`, which must succeed."""
    code, out, err = run_cli(argv, capsys)
    assert code == 0, (argv, err)
    return out


def _text(value: str) -> np.ndarray:
    return np.frombuffer(hashlib.sha256(value.encode()).hexdigest().encode(), dtype=np.uint8)


def capture(path: Path) -> dict[str, np.ndarray]:
    """An output file as named arrays, leaving out what names the code version or the clock."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in d.files if d[k].dtype.kind in "fiub"}
    if suffix == ".csv":
        text = path.read_text()
        return {"header": _text(text.splitlines()[0]), "values": np.genfromtxt(path, delimiter=",", skip_header=1)}
    if suffix == ".bvh":
        from gfpose_cli.io import bvh as bvh_io

        skel = bvh_io.read_skeleton(path)
        numbers = re.findall(NUMBER, skel.header)
        # each joint's channels as the rotation and translation they give, not the raw Euler angles: near
        # gimbal lock one CPU's last-digit rounding of a pose turns an angle by tenths of a degree (the
        # same rotation), which a tolerance on the angles cannot tell from a real change
        local = [bvh_io.local_transforms(skel, j) for j in range(len(skel.names))]
        return {"header": _text(re.sub(NUMBER, "#", skel.header)), "header_numbers": np.array(numbers, float),
                "world_positions": bvh_io.forward_kinematics(skel),
                "local_rotations": np.stack([r for r, _ in local], 1),
                "local_translations": np.stack([t for _, t in local], 1), "frame_time": np.array([skel.frame_time])}
    if suffix == ".c3d":
        from gfpose_cli.io.c3d import load

        f = load(path)
        params = {g: {k: v for k, v in ps.items() if (g, k) != ("GFPOSE", "VERSION")} for g, ps in f.params.items()}
        return {"xyz": np.nan_to_num(f.xyz).astype(np.float32), "observed": f.observed, "labels": _text("|".join(f.labels)),
                "params": _text(json.dumps(params, sort_keys=True, default=str)),
                "proc": _text(f"{f.raw.proc} {f.raw.scale!r}")}
    if suffix == ".trc":
        from gfpose_cli.io.trc import load as load_trc

        f = load_trc(path)
        return {"xyz": np.nan_to_num(f.xyz).astype(np.float32), "observed": f.observed, "names": _text("|".join(f.names)),
                "rate": np.array([f.rate])}
    if suffix == ".pt":
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=False)
        state = blob.get("ema") or blob.get("model") or blob.get("state_dict") or {}
        return {k: v.float().numpy() for k, v in state.items() if hasattr(v, "numpy")}
    if suffix == ".gif" or suffix == ".png":
        return {"size_nonzero": np.array([path.stat().st_size > 1000])}
    raise AssertionError(f"no capture for {path}")


def gappy_c3d(dst: Path) -> Path:
    """RoboStatic with its LKNE marker invalid for 40 frames (the spec's -1 fourth word)."""
    from gfpose_cli.io import c3d_raw
    from gfpose_cli.io.c3d import load

    raw = c3d_raw.parse(C3D.read_bytes())
    col = load(C3D).labels.index("LKNE")
    data = bytearray(raw.data)
    for f in range(200, 240):
        at = raw.data_offset + f * raw.frame_bytes + col * 4 * raw.word_bytes
        data[at + 3 * raw.word_bytes:at + 4 * raw.word_bytes] = struct.pack("<f", -1.0)
    dst.write_bytes(bytes(data))
    return dst


def keypoints_csv(src_npz: Path, dst: Path) -> Path:
    """2D keypoints (pixels) of a 3D take seen by one fixed camera, as the CSV schema writes them."""
    from gfpose_cli import io
    from gfpose_cli.core.take import Take

    take = io.read(src_npz)
    p = take.positions[::10].astype(np.float64)
    cam = np.stack([p[..., 0], -p[..., 2], p[..., 1] + 4.0], -1)  # 4 m in front, y down
    uv = 1000.0 * cam[..., :2] / cam[..., 2:] + 500.0
    io.write(Take(positions=uv.astype(np.float32), fps=take.fps / 10), dst)
    return dst


def points_csv(dst: Path) -> Path:
    """RoboStatic's markers as a plain CSV of named points (`Frame,Time,LASI_X,...`, mm, three decimals)."""
    from gfpose_cli.io.c3d import load

    c = load(C3D)
    xyz, seen = c.xyz, c.observed  # (F, N, 3) file units (mm), (F, N)
    rows = [",".join(["Frame", "Time"] + [f"{n}_{a}" for n in c.labels for a in "XYZ"])]
    for f in range(0, len(xyz), 4):
        cells = [str(f), f"{f / c.rate:.5f}"]
        for k in range(len(c.labels)):
            cells += [f"{v:.3f}" for v in xyz[f, k]] if seen[f, k] else ["", "", ""]
        rows.append(",".join(cells))
    dst.write_text("\n".join(rows) + "\n")
    return dst


def yolo_labels(kp_csv: Path, dst: Path) -> Path:
    """The 2D keypoints of kp_csv as Ultralytics YOLO pose labels (a file per frame, normalised by 1000 px)."""
    from gfpose_cli import io
    from gfpose_cli.core.skeleton import JOINTS
    from gfpose_cli.io.keypoints2d import COCO17

    uv = io.read(kp_csv).positions / 1000.0
    at = {"left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow", "right_elbow": "RElbow",
          "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip",
          "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LAnkle", "right_ankle": "RAnkle"}
    dst.mkdir()
    for f, pose in enumerate(uv):
        kps = [pose[JOINTS.index(at.get(n, "Head" if n != "nose" else "Neck"))] for n in COCO17]
        values = [0, 0.5, 0.5, 0.3, 0.6] + [v for x, y in kps for v in (x, y, 0.9)]
        (dst / f"take_{f + 1}.txt").write_text(" ".join("%g" % v for v in values) + "\n")
    return dst


def close(a: np.ndarray, b: np.ndarray, key: str = "") -> bool:
    """a is the recorded b, but for the rounding another CPU's kernels give (ACROSS_CPUS; a BVH's joint
    rotations ROTATIONS_ACROSS_CPUS)."""
    scale = float(np.nanmax(np.abs(b))) if np.isfinite(b).any() else 0.0
    atol = ROTATIONS_ACROSS_CPUS if key.endswith("/local_rotations") else max(1e-6, ACROSS_CPUS * scale)
    return bool(np.allclose(a, b, rtol=1e-5, atol=atol, equal_nan=True))


def outputs(tmp: Path, capsys) -> dict[str, np.ndarray]:
    """Run every subcommand; return all outputs as flat named arrays."""
    os.environ["GFPOSE_CODE_VERSION"] = "golden"
    out: dict[str, Path | str] = {}

    def add(name: str, argv: list[str], path: Path | None = None) -> None:
        text = run(argv, capsys)
        out[name] = path if path is not None else text

    t = tmp
    add("generate_npz", ["generate", "--n", "40", *FAST, "-o", str(t / "gen.npz")], t / "gen.npz")
    add("generate_bvh", ["generate", "--n", "8", *FAST, "-o", str(t / "gen.bvh")], t / "gen.bvh")
    add("generate_c3d", ["generate", "--n", "8", *FAST, "-o", str(t / "gen.c3d")], t / "gen.c3d")
    add("generate_views", ["generate", "--n", "12", "--cameras", "2", "--temperature", "0.7", *FAST,
                           "-o", str(t / "views.npz")], t / "views.npz")
    for k in (0, 1):
        run(["generate", "--n", "40", *FAST, "--batch-size", "16", "--shard", f"{k}/2", "-o", str(t / f"part{k}.npz")], capsys)
    add("merge", ["merge", str(t / "part0.npz"), str(t / "part1.npz"), "-o", str(t / "merged.npz")], t / "merged.npz")
    add("convert_c3d_npz", ["convert", str(C3D), "-o", str(t / "conv.npz"), "-q"], t / "conv.npz")
    add("convert_bvh_bvh", ["convert", str(BVH), "-o", str(t / "conv.bvh"), "-q"], t / "conv.bvh")
    add("convert_csv", ["convert", str(BVH), "-o", str(t / "conv.csv"), "-q"], t / "conv.csv")
    add("convert_add_joints", ["convert", str(C3D), "--add-joints", "-o", str(t / "joints.c3d"), "-q"], t / "joints.c3d")
    # a C3D to TRC carries its markers, then the joints; that TRC to C3D the same again (markers, then joints)
    add("convert_c3d_trc", ["convert", str(C3D), "-o", str(t / "conv.trc"), "-q"], t / "conv.trc")
    add("convert_trc_c3d", ["convert", str(t / "conv.trc"), "--map", "plug-in-gait", "-o", str(t / "back.c3d"), "-q"],
        t / "back.c3d")
    add("denoise_c3d", ["denoise", str(C3D), *FAST, "-o", str(t / "den.c3d")], t / "den.c3d")
    add("denoise_bvh", ["denoise", str(BVH), *FAST, "-o", str(t / "den.bvh")], t / "den.bvh")
    add("denoise_bind_bvh", ["denoise", str(BIND_BVH), *FAST, "-o", str(t / "bind.bvh")], t / "bind.bvh")
    add("denoise_per_frame", ["denoise", str(t / "conv.npz"), "--per-frame", "--t0", "0.05", *FAST,
                              "-o", str(t / "denf.npz")], t / "denf.npz")
    gappy = gappy_c3d(t / "gappy.c3d")
    add("complete_c3d", ["complete", str(gappy), *FAST, "-o", str(t / "filled.c3d")], t / "filled.c3d")
    add("complete_npz", ["complete", str(gappy), *FAST, "-o", str(t / "filled.npz")], t / "filled.npz")
    add("complete_per_frame", ["complete", str(gappy), "--per-frame", "--hypotheses", "2", *FAST,
                               "-o", str(t / "filledS.npz")], t / "filledS.npz")
    add("complete_per_frame_one", ["complete", str(gappy), "--per-frame", *FAST, "-o", str(t / "filled1.npz")],
        t / "filled1.npz")  # one completion per frame: the point estimate
    kp = keypoints_csv(t / "conv.npz", t / "kp.csv")
    add("lift_per_frame_one", ["lift", str(kp), "--per-frame", *FAST, "-o", str(t / "lift1.npz")], t / "lift1.npz")
    add("lift_npz", ["lift", str(kp), "--hypotheses", "3", *FAST, "-o", str(t / "lift.npz")], t / "lift.npz")
    add("lift_csv", ["lift", str(kp), "--hypotheses", "3", "--aggregate", "mean", *FAST, "-o", str(t / "lift.csv")],
        t / "lift.csv")
    add("lift_pc", ["lift", str(kp), "--sampler", "pc", "--steps", "3", "--seed", "3", "-q", "-o", str(t / "liftpc.npz")],
        t / "liftpc.npz")
    pts = points_csv(t / "points.csv")  # a plain CSV of named points: read as markers, written back cell by cell
    add("convert_points_csv", ["convert", str(pts), "-o", str(t / "points.npz"), "-q"], t / "points.npz")
    add("denoise_points_csv", ["denoise", str(pts), *FAST, "-o", str(t / "points_clean.csv")], t / "points_clean.csv")
    labels = yolo_labels(kp, t / "labels")  # YOLO pose labels: a folder of normalised keypoints
    add("convert_yolo_csv", ["convert", str(labels), "-o", str(t / "yolo.csv"), "-q"], t / "yolo.csv")
    add("evaluate", ["evaluate", str(t / "denf.npz"), str(t / "conv.npz"), "--json"])
    add("maps", ["maps", str(C3D)])
    add("maps_list", ["maps"])
    add("train", ["train", str(t / "conv.npz"), "--task", "prior", "--steps", "3", "--width", "32", "--blocks", "1",
                  "--batch-size", "16", "--no-holdout", "--device", "cpu", "--seed", "3", "-q", "-o", str(t / "tiny.pt")],
        t / "tiny.pt")
    pytest.importorskip("matplotlib")
    add("render", ["render", str(C3D), "--compare", str(t / "den.c3d"), "--markers", "-o", str(t / "r.png"), "-q"],
        t / "r.png")
    flat: dict[str, np.ndarray] = {}
    for name, value in out.items():
        if isinstance(value, Path):
            for key, arr in capture(value).items():
                flat[f"{name}/{key}"] = np.asarray(arr)
        elif name == "evaluate":
            numbers = json.loads(value)
            flat[f"{name}/json"] = np.array(_numbers(numbers), dtype=np.float64)
        else:
            flat[f"{name}/text"] = _text(value)
    return flat


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def test_every_subcommand_gives_the_recorded_outputs(tmp_path: Path, capsys, monkeypatch, request) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables at the terminal width
    # the code version is written into outputs; its length (a "-dirty" checkout) moves a C3D's data start
    monkeypatch.setenv("GFPOSE_CODE_VERSION", "0.1.0+golden")
    from gfpose_cli.util.provenance import code_version

    code_version.cache_clear()  # cached at first use: an earlier test in this process read the checkout's
    request.addfinalizer(code_version.cache_clear)
    # recorded in fp32: a machine whose CPU computes bf16 natively would otherwise sample in bf16
    import gfpose_cli.tasks

    monkeypatch.setattr(gfpose_cli.tasks, "native_bf16", lambda device: False)
    got = outputs(tmp_path, capsys)
    with np.load(GOLDEN) as d:
        want = {k: d[k] for k in d.files}
    if os.environ.get("GFPOSE_UPDATE_GOLDEN"):
        # only what moved (or is new) is re-recorded: the rest keeps the recording it had, so a change
        # recorded on one CPU does not carry that CPU's rounding into every other output
        same = {k: want[k] for k in got if k in want and got[k].shape == want[k].shape and
                (close(got[k], want[k], k) if got[k].dtype.kind == "f" else np.array_equal(got[k], want[k]))}
        np.savez_compressed(GOLDEN, **{**got, **same})
        pytest.skip(f"re-recorded {len(got) - len(same)} of {len(got)} golden arrays in {GOLDEN}")
    assert sorted(got) == sorted(want)
    differ = []  # every output that moved, named at once
    for key in sorted(want):
        a, b = got[key], want[key]
        if a.shape != b.shape:
            differ.append(f"{key} (shape {a.shape} vs {b.shape})")
        elif a.dtype.kind == "f" and not close(a, b, key):
            differ.append(f"{key} (largest change {np.nanmax(np.abs(a - b)):.3g})")
        elif a.dtype.kind != "f" and not np.array_equal(a, b):
            differ.append(key)
    assert not differ, "outputs differ from the recorded ones: " + ", ".join(differ)
