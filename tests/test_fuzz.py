"""Fuzz every reader through the real command line: damaged files give one line and exit 2.

Base files are real fixtures (when ../shared is present) and files gfpose writes itself, in
every input format; each is damaged by byte mutators (bit flips, truncation, inserted, deleted,
repeated or blanked ranges, random bytes) and, for text formats, text mutators (lines dropped,
repeated or swapped, numbers turned into nan/inf/huge/garbage, Latin-1 bytes). Every case runs
`gfpose convert` under a time limit and must end with exit 0 and a readable output, or exit 2, one
line and no output; never a traceback, an internal error, a hang or a partial file. Set
GFPOSE_FUZZ_SEED and GFPOSE_FUZZ_CASES to explore further, and GFPOSE_FUZZ_LOG to a file path to have each case's exit code
and message written there (to compare two runs).
"""
from __future__ import annotations

import json
import os
import random
import signal
import warnings
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.io.keypoints2d import COCO17
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import Take

from .conftest import DATA, FIXTURES, synthetic_poses
from .test_cli import run
from .test_mvnx import write_mvnx

SEED = int(os.environ.get("GFPOSE_FUZZ_SEED", "20261126"))
CASES = int(os.environ.get("GFPOSE_FUZZ_CASES", "1100"))
CASE_TIMEOUT_S = 60
FUZZ_SUMMARY = pytest.StashKey[list]()
TEXT = {"bvh", "csv", "json", "amc", "asf", "trc", "tsv", "mvnx", "yolo"}
NUMBERS = ["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "0", "-0", "", "abc", "999999999999", "1e-320", "0x10"]


def _cut_bvh(text: str, frames: int) -> str:
    """The first frames of a BVH, so a case reads in milliseconds but keeps the real hierarchy."""
    head, motion = text.split("MOTION", 1)
    lines = motion.strip().splitlines()
    return f"{head}MOTION\nFrames: {frames}\n{lines[1]}\n" + "\n".join(lines[2 : 2 + frames]) + "\n"


def _cut_amc(text: str, frames: int) -> str:
    out, count = [], 0
    for line in text.splitlines():
        if line.strip().isdigit():
            count += 1
            if count > frames:
                break
        out.append(line)
    return "\n".join(out) + "\n"


def build_bases(folder: Path) -> list[tuple[Path, str]]:
    """(file, format) pairs to damage: our own outputs always, real fixtures and archive clips if present."""
    poses = synthetic_poses(30, seed=1)
    mask = np.ones((30, 17), bool)
    mask[4, 3] = mask[9, 12] = False
    take = Take(positions=poses, mask=mask, fps=50.0)
    kp = Take(positions=poses[..., :2] * 400 + 300, mask=mask, fps=30.0, confidence=np.full((30, 17), 0.9, np.float32))
    bases = []
    for name, t in (("take3d", take), ("kp2d", kp)):
        for ext in ("npz", "csv"):
            io.write(t, folder / f"{name}.{ext}")
            bases.append((folder / f"{name}.{ext}", ext))
    full = Take(positions=poses, fps=50.0)
    for ext in ("c3d", "bvh", "trc"):
        io.write(full, folder / f"ours.{ext}")
        bases.append((folder / f"ours.{ext}", ext))
    bases.append((_motive_export(folder / "motive.csv", poses), "csv"))
    bases.append((_nexus_export(folder / "nexus.csv", poses), "csv"))
    bases.append((_qtm_export(folder / "qtm.tsv", poses), "tsv"))
    write_mvnx(folder / "xsens.mvnx", Take(positions=poses, fps=50.0))
    bases.append((folder / "xsens.mvnx", "mvnx"))
    bases.append((_qtm_mat(folder / "qtm.mat", poses), "mat"))
    coco = [{"image_id": f, "category_id": 1, "score": 0.9,
             "keypoints": [float(v) for name in COCO17 for v in (*kp.positions[f, JOINTS.index(_nearest(name))], 0.9)]}
            for f in range(10)]
    (folder / "coco.json").write_text(json.dumps(coco))
    bases.append((folder / "coco.json", "json"))
    # a detector's keypoints as researchers save them: an NPZ in COCO-17's order, a DeepLabCut CSV, YOLO labels
    in_coco = np.stack([kp.positions[:10, JOINTS.index(_nearest(name))] for name in COCO17], 1)
    np.savez(folder / "coco_order.npz", keypoints=np.concatenate([in_coco, np.full((10, 17, 1), 0.9)], -1), fps=30.0)
    bases.append((folder / "coco_order.npz", "npz"))
    dlc = ["scorer," + ",".join(["DLC_resnet50"] * 51), "bodyparts," + ",".join(n for n in COCO17 for _ in "xyl"),
           "coords," + ",".join(["x", "y", "likelihood"] * 17)]
    dlc += [f"{f}," + ",".join(f"{x:.3f},{y:.3f},0.95" for x, y in pose) for f, pose in enumerate(in_coco)]
    (folder / "dlc.csv").write_text("\n".join(dlc) + "\n")
    bases.append((folder / "dlc.csv", "csv"))
    points = ["Frame,Time," + ",".join(f"{n}_X,{n}_Y,{n}_Z" for n in COCO17)]  # a plain CSV of named 3D points
    points += [f"{f},{f / 50:.4f}," + ",".join(f"{v * 1000:.2f}" for name in COCO17
                                              for v in take.positions[f, JOINTS.index(_nearest(name))]
                                              ) for f in range(30)]
    (folder / "points.csv").write_text("\n".join(points) + "\n")
    bases.append((folder / "points.csv", "csv"))
    labels = folder / "labels"
    labels.mkdir()
    for f, pose in enumerate(in_coco / 1000.0):
        values = [0, 0.5, 0.5, 0.2, 0.4] + [v for x, y in pose for v in (x, y, 0.9)] + [0.8]
        (labels / f"walk_{f + 1}.txt").write_text(" ".join("%g" % v for v in values) + "\n")
    bases.append((labels / "walk_1.txt", "yolo"))
    if FIXTURES.is_dir():
        for path in sorted(FIXTURES.glob("*.c3d")):
            bases.append((path, "c3d"))
        for path in sorted(FIXTURES.glob("*.bvh")):
            (folder / path.name).write_text(_cut_bvh(path.read_text(encoding="latin-1"), 40), encoding="latin-1")
            bases.append((folder / path.name, "bvh"))
    archive = DATA / "hdm05-amc.tar.xz"
    if archive.exists():
        clip = folder / "hdm05"
        clip.mkdir()
        with tarfile.open(archive, "r:xz") as tar:
            for member in tar:
                if member.name.endswith(".asf") and not (clip / "bd.asf").exists():
                    (clip / "bd.asf").write_bytes(tar.extractfile(member).read())
                elif member.name.endswith(".amc"):
                    text = tar.extractfile(member).read().decode("latin-1")
                    (clip / "clip.amc").write_text(_cut_amc(text, 40), encoding="latin-1")
                    break
        bases += [(clip / "clip.amc", "amc"), (clip / "bd.asf", "asf")]
    return bases


def _motive_export(path: Path, poses: np.ndarray) -> Path:
    """An OptiTrack Motive CSV export of the joints as labelled markers (gfpose17 names under a
    `Skeleton_001:` prefix), beside a solved bone and an unlabelled marker, as Motive lays it out."""
    F = len(poses)
    yup = poses[..., [1, 2, 0]]
    types, names, what, axes = [",Type"], [",Name"], [","], ["Frame,Time (Seconds)"]
    for name, kind in [("Skeleton_001:Hip", "Bone")] + [(f"Skeleton_001:{j}", "Marker") for j in JOINTS] + \
            [("Unlabeled 1001", "Marker")]:
        types += [kind] * 3
        names += [name] * 3
        what += ["Position"] * 3
        axes += ["X", "Y", "Z"]
    rows = []
    for f in range(F):
        pts = [yup[f, 0]] + [yup[f, j] for j in range(len(JOINTS))] + [np.array([1.0, 0.02, 1.5])]
        rows.append(f"{f},{f / 50.0:.6f}," + ",".join(f"{v:.6f}" for p in pts for v in p))
    lines = ["Format Version,1.23,Take Name,fuzz,Capture Frame Rate,50.000000,Export Frame Rate,50.000000,"
             "Length Units,Meters,Coordinate Space,Global", "", ",".join(types), ",".join(names), ",".join(what),
             ",".join(axes), *rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def _nexus_export(path: Path, poses: np.ndarray) -> Path:
    """A Vicon Nexus CSV export of the joints as a subject's trajectories (gfpose17 names), between a
    Devices and a Model Outputs section, as Nexus lays it out."""
    F = len(poses)
    mm = poses * 1000.0
    lines = ["Devices", "500", ",,Force Plate #1 - Force,,", "Frame,Sub Frame,Fx,Fy,Fz", ",,N,N,N",
             *(f"{f + 1},{s},0.1,0.2,700.0" for f in range(F) for s in range(10)), "",
             "Trajectories", "50", ",," + ",".join(x for j in JOINTS for x in (f"Sub:{j}", "", "")),
             "Frame,Sub Frame," + ",".join("X,Y,Z" for _ in JOINTS), ",," + ",".join("mm,mm,mm" for _ in JOINTS),
             *(f"{f + 1},0," + ",".join(f"{v:.5f}" for v in mm[f].reshape(-1)) for f in range(F)), "",
             "Model Outputs", "50", ",,Sub:LHipAngles,,", "Frame,Sub Frame,X,Y,Z", ",,deg,deg,deg",
             *(f"{f + 1},0,1.0,2.0,3.0" for f in range(F)), ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def _qtm_export(path: Path, poses: np.ndarray) -> Path:
    """A Qualisys TSV export of the joints as markers (gfpose17 names, mm), gaps as zeros, as QTM writes it."""
    F = len(poses)
    lines = [f"NO_OF_FRAMES\t{F}", "NO_OF_CAMERAS\t8", f"NO_OF_MARKERS\t{len(JOINTS)}", "FREQUENCY\t50",
             "NO_OF_ANALOG\t0", "ANALOG_FREQUENCY\t0", "DESCRIPTION\t--", "TIME_STAMP\t2026-12-06, 10:00:00\t0.0",
             "DATA_INCLUDED\t3D", "MARKER_NAMES\t" + "\t".join(JOINTS),
             "Frame\tTime\t" + "\t".join(f"{j} {a}" for j in JOINTS for a in "XYZ"),
             *(f"{f + 1}\t{f / 50:.5f}\t" + "\t".join(f"{v:.3f}" for v in poses[f].reshape(-1) * 1000) for f in range(F))]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _qtm_mat(path: Path, poses: np.ndarray) -> Path:
    """A QTM MAT export of the joints as labelled trajectories (gfpose17 names, mm, markers x 4 x frames)."""
    from scipy.io import savemat

    data = np.concatenate([poses.transpose(1, 2, 0) * 1000.0, np.ones((len(JOINTS), 1, len(poses)))], 1)
    savemat(str(path), {"fuzz": {"FrameRate": 50.0, "Frames": len(poses),
                                 "Trajectories": {"Labeled": {"Labels": np.array(JOINTS, dtype=object), "Data": data}}}})
    return path


def _nearest(coco_name: str) -> str:
    """The 17-joint stand-in for a COCO keypoint (face points sit on the head)."""
    side = "L" if coco_name.startswith("left") else "R"
    part = coco_name.split("_")[-1]
    return {"shoulder": f"{side}Shoulder", "elbow": f"{side}Elbow", "wrist": f"{side}Wrist", "hip": f"{side}Hip",
            "knee": f"{side}Knee", "ankle": f"{side}Ankle"}.get(part, "Head")


# ---------------------------------------------------------------- mutators
def _pos(rng: random.Random, data: bytes) -> int:
    # headers and parameter sections are where parsers trust sizes: aim there half the time
    return rng.randrange(min(len(data), 2048)) if rng.random() < 0.5 else rng.randrange(len(data))


def flip(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        p = _pos(rng, b)
        b[p] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng, data):
    return data[: rng.randrange(len(data))]


def insert(rng, data):
    p = _pos(rng, data)
    return data[:p] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[p:]


def delete(rng, data):
    p = _pos(rng, data)
    return data[:p] + data[p + rng.randint(1, 512):]


def repeat(rng, data):
    p = _pos(rng, data)
    return data[:p] + data[p : p + rng.randint(1, 512)] * rng.randint(2, 5) + data[p:]


def blank(rng, data):
    p = _pos(rng, data)
    n = rng.randint(1, 256)
    return data[:p] + bytes([rng.choice((0, 255))]) * n + data[p + n:]


def random_bytes(rng, data):
    return bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 16, 512, 4096))))


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def drop_lines(rng, data):
    lines = _lines(data)
    p = rng.randrange(len(lines))
    return b"\n".join(lines[:p] + lines[p + rng.randint(1, 5):])


def repeat_line(rng, data):
    lines = _lines(data)
    p = rng.randrange(len(lines))
    return b"\n".join(lines[:p] + [lines[p]] * rng.randint(2, 4) + lines[p + 1:])


def swap_lines(rng, data):
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def bad_number(rng, data):
    text = data.decode("latin-1")
    spots = [i for i in range(1, len(text)) if text[i].isdigit() and not text[i - 1].isalnum()]
    if not spots:
        return flip(rng, data)
    for _ in range(rng.randint(1, 3)):
        i = rng.choice(spots)
        j = i
        while j < len(text) and (text[j].isdigit() or text[j] in ".e-+"):
            j += 1
        text = text[:i] + rng.choice(NUMBERS) + text[j:]
        spots = [s for s in spots if s < len(text)] or [1]
    return text.encode("latin-1")


def latin1(rng, data):
    p = _pos(rng, data)
    return data[:p] + rng.choice([b"\xe9", b"\xff\xfe", b"\x00", b"\r\n", b"\xc3\x28"]) + data[p:]


BYTE_MUTATORS = [flip, truncate, insert, delete, repeat, blank, random_bytes]
TEXT_MUTATORS = [drop_lines, repeat_line, swap_lines, bad_number, latin1]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@pytest.fixture
def bases(tmp_path: Path) -> list[tuple[Path, str]]:
    folder = tmp_path / "bases"
    folder.mkdir()
    return build_bases(folder)


def test_fuzz_every_reader_through_convert(tmp_path: Path, capsys, bases, request) -> None:
    rng = random.Random(SEED)
    failures: list[str] = []
    tally: Counter = Counter()
    outcomes: Counter = Counter()
    log: list[str] = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(CASES):
            base, fmt = bases[case % len(bases)]
            mutators = BYTE_MUTATORS + (TEXT_MUTATORS if fmt in TEXT else [])
            mutate = rng.choice(mutators)
            data = mutate(rng, base.read_bytes())
            work = tmp_path / f"case{case:05d}"
            out = work / "out"
            out.mkdir(parents=True)
            if fmt in ("amc", "asf"):  # an ASF/AMC pair: damage one, keep the other
                for sibling in base.parent.iterdir():
                    (work / sibling.name).write_bytes(data if sibling == base else sibling.read_bytes())
                target, read_as = work / "clip.amc", "amc"
            elif fmt == "yolo":  # a folder of label files: damage one, keep the others
                target, read_as = work / "labels", None
                target.mkdir()
                for sibling in base.parent.iterdir():
                    (target / sibling.name).write_bytes(data if sibling == base else sibling.read_bytes())
            else:
                target, read_as = work / base.name, fmt
                target.write_bytes(data)
            argv = ["convert", str(target), *(["--from", read_as] if read_as else []), "-o", str(out / "out.npz"), "-q"]
            signal.alarm(CASE_TIMEOUT_S)
            try:
                with warnings.catch_warnings(record=True) as leaked:  # what would reach a user's terminal
                    warnings.simplefilter("always")
                    warnings.simplefilter("ignore", DeprecationWarning)  # Python shows these only to developers
                    warnings.simplefilter("ignore", PendingDeprecationWarning)
                    warnings.simplefilter("ignore", ImportWarning)
                    warnings.filterwarnings("always", category=ResourceWarning)  # a file left open: ours to close
                    code, _, err = run(argv, capsys)
            except _Timeout:
                code, err = -1, capsys.readouterr().err
            finally:
                signal.alarm(0)
            tally[fmt] += 1
            outcomes[code] += 1
            label = f"case {case} ({base.name}, {mutate.__name__})"
            log.append(f"{label}\t{code}\t{err.strip()[:300]!r}")
            written = sorted(p.name for p in out.iterdir())
            if code == -1:
                failures.append(f"{label}: no answer within {CASE_TIMEOUT_S} s")
            elif leaked:  # a Python warning printed beside gfpose's own line (numpy's 'invalid value ...')
                failures.append(f"{label}: a Python warning reached stderr: {leaked[0].category.__name__}: {leaked[0].message}")
            elif code not in (0, 2) or "Traceback" in err or "internal error" in err:
                failures.append(f"{label}: exit {code}: {err.strip()[:300]}")
            elif code == 2 and (written or len(err.strip().splitlines()) != 1):
                failures.append(f"{label}: refused but left {written} / said {err.strip()[:300]!r}")
            elif code == 0:
                if written != ["out.npz"]:
                    failures.append(f"{label}: succeeded but wrote {written}")
                else:
                    try:
                        io.read(out / "out.npz")  # a complete output our own reader accepts
                    except Exception as exc:  # noqa: BLE001 - reported as a failure of this case
                        failures.append(f"{label}: wrote an output that does not read back: {exc}")
            for child in out.iterdir():
                child.unlink()
    finally:
        signal.signal(signal.SIGALRM, previous)
        if os.environ.get("GFPOSE_FUZZ_LOG"):
            Path(os.environ["GFPOSE_FUZZ_LOG"]).write_text("\n".join(log) + "\n")
    summary = (f"fuzz: {sum(tally.values())} cases, seed {SEED}; per format {dict(sorted(tally.items()))}; "
               f"exit codes {dict(sorted(outcomes.items()))}; {len(failures)} failed")
    request.config.stash.setdefault(FUZZ_SUMMARY, []).append(summary)  # printed at the end of the run
    assert sum(tally.values()) >= 1000
    assert not failures, f"{len(failures)} of {sum(tally.values())} cases failed:\n" + "\n".join(failures[:15])
