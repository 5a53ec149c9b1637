"""Training pose sets: from the mocap archives in ../shared/data or from a user's pose files.

Archives are streamed in place with tarfile (never unpacked), every take goes through the normal
reader + skeleton map, is subsampled to ~30 fps, and the result is cached as NPZ in the user's
cache folder keyed by the archive's checksum, so the slow step runs once per machine.
Splits are by subject, with a fixed held-out list, so test poses come from bodies and
performances the model never saw.
"""
from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS, root_relative
from gfpose_cli.core.take import Take
from gfpose_cli.util.provenance import file_digest

TARGET_FPS = 30.0
#: held-out subjects, never trained on: CMU subjects 02, 09 and 12 (the retargeted CMU body of
#: cmu-bvh), HDM05 actor mm, and one body of each family of the multibody archives: CMU subject 83 in
#: its original ASF/AMC (the shortest, 1.40 m to the head bone's end), ACCAD Male1 in BVH (the tallest,
#: femur 0.455 m) and CMU subject 135 as marker C3D (joint centres from markers).
HELD_OUT = {"cmu": ("02", "09", "12"), "hdm05": ("mm",), "cmuamc": ("83",), "accad": ("Male1",), "cmuc3d": ("135",)}
#: CMU trials recorded at 60 fps although their header says 120 (PROVENANCE.md).
CMU_TRUE_FPS = {"dance-salsa": 60.0}
CACHE_VERSION = 5  # 3: BVH/ASF Y-axis rotations fixed (were mirrored); 4: BVH position channels replace OFFSET;
#                    5: marker sets' hips by regression in the pelvis frame, the pelvis between them
#: clips whose source decimated them below CMU's 120 Hz (multibody-mocap PROVENANCE.md)
CLIP_FPS = {"141_01.amc": 30.0}
ProgressFn = Callable[[str], None]


@dataclass
class PoseSet:
    """Poses (N, 17, 3) in metres, canonical Z-up frame, with the root trajectory kept aside."""

    poses: np.ndarray  # root-relative
    root: np.ndarray  # (N, 3)
    take: np.ndarray  # (N,) index into takes
    takes: list[str]
    subjects: list[str]  # per take
    fps: float = TARGET_FPS

    def held_out_mask(self) -> np.ndarray:
        """True for poses of held-out subjects."""
        held = {f"{fam}:{s}" for fam, subs in HELD_OUT.items() for s in subs}
        take_held = np.array([s in held for s in self.subjects], dtype=bool)
        return take_held[self.take] if len(self.takes) else np.zeros(0, bool)

    def split(self) -> tuple["PoseSet", "PoseSet"]:
        held = self.held_out_mask()
        return self.subset(~held), self.subset(held)

    def subset(self, keep: np.ndarray) -> "PoseSet":
        return PoseSet(self.poses[keep], self.root[keep], self.take[keep], self.takes, self.subjects, self.fps)

    def families(self) -> np.ndarray:
        """Data family of each pose ('cmu', 'hdm05', 'user', ...), from its subject."""
        fam = np.array([s.split(":", 1)[0] for s in self.subjects]) if self.subjects else np.zeros(0, str)
        return fam[self.take] if len(self.take) else np.zeros(0, str)

    def sampling_weights(self, power: float = 0.5) -> np.ndarray:
        """Per-pose weights giving each family a share proportional to (its size)^power.

        power=1 is uniform over poses; 0.5 keeps the small HDM05 set (four real bodies) from being
        drowned by CMU's one retargeted body without repeating it as often as power=0 would.
        """
        fam = self.families()
        names, counts = np.unique(fam, return_counts=True)
        share = counts.astype(np.float64) ** power
        share /= share.sum()
        per_pose = dict(zip(names, share / counts))
        return np.array([per_pose[f] for f in fam])

    def summary(self) -> dict:
        train, held = self.split()
        return {
            "takes": len(self.takes),
            "subjects": sorted(set(self.subjects)),
            "poses": int(len(self.poses)),
            "train_poses": int(len(train.poses)),
            "held_out_poses": int(len(held.poses)),
            "held_out_subjects": sorted(f"{f}:{s}" for f, subs in HELD_OUT.items() for s in subs),
            "fps": self.fps,
            "families": {str(k): int(v) for k, v in zip(*np.unique(train.families(), return_counts=True))},
        }

    @staticmethod
    def concat(sets: Iterable["PoseSet"]) -> "PoseSet":
        sets = [s for s in sets if len(s.poses)]
        if not sets:
            raise InputError("no poses found in the training data")
        takes, subjects, take_idx, offset = [], [], [], 0
        for s in sets:
            take_idx.append(s.take + offset)
            takes += s.takes
            subjects += s.subjects
            offset += len(s.takes)
        return PoseSet(
            np.concatenate([s.poses for s in sets]), np.concatenate([s.root for s in sets]),
            np.concatenate(take_idx), takes, subjects,
        )


def held_out_sample(pose_set: PoseSet, n: int, seed: int = 0,
                    families: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """n held-out poses per family (canonical frame, root-relative), fixed by seed: the test poses of
    bench/accuracy.py and the shipped-weights test."""
    _, held = pose_set.split()
    rng = np.random.default_rng(seed)
    out = {}
    for fam in families or tuple(dict.fromkeys(held.families())):
        poses = held.poses[held.families() == fam]
        if len(poses):
            out[fam] = poses[rng.choice(len(poses), size=min(n, len(poses)), replace=False)]
    return out


def cache_dir() -> Path:
    """Where built pose sets live: $GFPOSE_CACHE, else ~/.cache/gfpose."""
    return Path(os.environ.get("GFPOSE_CACHE", Path.home() / ".cache" / "gfpose"))


def subsample_step(fps: float) -> int:
    return max(1, int(round(fps / TARGET_FPS)))


TakeRecord = tuple[str, str, np.ndarray, np.ndarray, float]  # name, subject, positions, mask, fps


def _cmu_takes(path: Path) -> Iterator[TakeRecord]:
    from gfpose_cli.io import take_from_bvh
    from gfpose_cli.io.bvh import parse
    from gfpose_cli.io.maps import load_map

    smap = load_map("cmu-bvh")
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith(".bvh"):
                continue
            folder = Path(member.name).parent.name
            text = tar.extractfile(member).read().decode("utf-8", errors="replace")
            take = take_from_bvh(parse(text, f"{path}:{member.name}"), f"{path}:{member.name}", smap)
            true_fps = CMU_TRUE_FPS.get(folder, take.fps)
            # frame 0 is a T-pose
            yield f"cmu/{member.name}", f"cmu:{folder}", take.positions[1:], take.mask[1:], true_fps


def _hdm05_takes(path: Path) -> Iterator[TakeRecord]:
    from gfpose_cli.io import read_amc
    from gfpose_cli.io.maps import load_map

    smap = load_map("hdm05-asf")
    asf_text: dict[str, str] = {}
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            actor = Path(member.name).parent.name
            data = tar.extractfile(member).read().decode("latin-1")
            if member.name.lower().endswith(".asf"):
                asf_text[actor] = data
                continue
            if not member.name.lower().endswith(".amc"):
                continue
            if actor not in asf_text:
                raise InputError(f"{path}: {member.name} comes before its actor's .asf skeleton")
            take = read_amc(Path(member.name), Path(f"{actor}.asf"), smap, asf_text=asf_text[actor], amc_text=data)
            yield f"hdm05/{member.name}", f"hdm05:{actor}", take.positions, take.mask, take.fps


def _multibody_takes(path: Path) -> Iterator[TakeRecord]:
    """multibody-mocap: CMU performers in their original ASF/AMC (cmu-amc/<body>/<body>.asf and
    <body>_<take>.amc, 120 Hz but for CLIP_FPS) and ACCAD performers in BVH (accad-bvh/<performer>/)."""
    from gfpose_cli.io import read_amc, take_from_bvh
    from gfpose_cli.io.bvh import parse
    from gfpose_cli.io.maps import load_map

    acclaim, rig = load_map("hdm05-asf"), load_map("mixamo")
    with tarfile.open(path, "r:*") as tar:  # small (11 MB): read whole, an .asf may follow its .amc
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    for name in sorted(files):
        member, body = Path(name), Path(name).parent.name
        where = f"{path}:{name}"
        if "cmu-amc" in member.parts and member.suffix.lower() == ".amc":
            asf = next((k for k in files if Path(k).parent == member.parent and k.lower().endswith(".asf")), None)
            if asf is None:
                raise InputError(f"{where}: no .asf skeleton beside it")
            take = read_amc(member, Path(asf), acclaim, asf_text=files[asf].decode("latin-1"),
                            amc_text=files[name].decode("latin-1"))
            yield f"cmuamc/{name}", f"cmuamc:{body}", take.positions, take.mask, CLIP_FPS.get(member.name, 120.0)
        elif "accad-bvh" in member.parts and member.suffix.lower() == ".bvh":
            take = take_from_bvh(parse(files[name].decode("utf-8", errors="replace"), where), where, rig)
            yield f"accad/{name}", f"accad:{body}", take.positions, take.mask, take.fps


def _multibody2_takes(path: Path) -> Iterator[TakeRecord]:
    """multibody2-mocap: CMU performers as their original marker C3D (cmu-c3d/<body>/*.c3d), read through
    the plug-in-gait map as a studio's own captures are."""
    import tempfile

    from gfpose_cli import io

    with tarfile.open(path, "r:*") as tar, tempfile.TemporaryDirectory() as tmp:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith(".c3d"):
                continue
            local = Path(tmp) / Path(member.name).name
            local.write_bytes(tar.extractfile(member).read())
            take = io.read(local, skeleton_map="plug-in-gait")
            body = Path(member.name).parent.name
            yield f"cmuc3d/{member.name}", f"cmuc3d:{body}", take.positions, take.mask, take.fps


def pose_set_from_takes(records: Iterable[TakeRecord], progress: ProgressFn | None = None,
                        drop_glitches: bool = True) -> PoseSet:
    """Collect takes into one pose set: ~30 fps, complete (and glitch-free) frames, root kept aside.

    User files skip the glitch filter: they may be pose collections rather than sequences.
    """
    poses, roots, take_idx, takes, subjects = [], [], [], [], []
    for name, subject, positions, mask, fps in records:
        rel, root = _take_poses(positions, mask, fps, drop_glitches)
        poses.append(rel)
        roots.append(root)
        take_idx.append(np.full(len(rel), len(takes)))
        takes.append(name)
        subjects.append(subject)
        if progress:
            progress(name)
    if not takes:
        raise InputError("no takes found in the training data")
    return PoseSet(np.concatenate(poses), np.concatenate(roots), np.concatenate(take_idx), takes, subjects)


def glitch_frames(positions: np.ndarray, fps: float, limit_m_per_frame_at_120: float = 0.15) -> np.ndarray:
    """Frames (bool, F) next to a joint jump faster than a human moves (0.15 m per 1/120 s).

    Catches tracking glitches such as HDM05 dg lieDownFloor_014 frames 241-252 (PROVENANCE.md).
    """
    limit = limit_m_per_frame_at_120 * 120.0 / fps
    step = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(-1)
    jump = np.zeros(len(positions), bool)
    jump[1:] |= step > limit
    jump[:-1] |= step > limit
    return jump


def _take_poses(positions: np.ndarray, mask: np.ndarray, fps: float,
                drop_glitches: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Subsample a take to ~30 fps, dropping incomplete (and glitched) frames; (root-relative, root)."""
    bad = ~mask.all(1)
    if drop_glitches and len(positions) > 1:
        bad |= glitch_frames(positions, fps)
    step = subsample_step(fps)
    keep = ~bad[::step]
    return root_relative(positions[::step][keep])


ARCHIVES: dict[str, Callable[[Path], Iterator[TakeRecord]]] = {
    "cmu-bvh": _cmu_takes, "hdm05-amc": _hdm05_takes,
    "multibody-mocap": _multibody_takes, "multibody2-mocap": _multibody2_takes,
}


def archive_kind(path: Path) -> str | None:
    """Which known archive a path is (by name), or None."""
    name = path.name.lower()
    return next((k for k in ARCHIVES if name.startswith(k) and ".tar" in name), None)


def _save_cache(path: Path, s: PoseSet) -> None:
    from gfpose_cli.util.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, poses=s.poses, root=s.root, take=s.take, takes=np.array(s.takes),
                                subjects=np.array(s.subjects), fps=s.fps)


def _load_cache(path: Path) -> PoseSet:
    with np.load(path) as d:
        return PoseSet(d["poses"], d["root"], d["take"], [str(t) for t in d["takes"]],
                       [str(s) for s in d["subjects"]], float(d["fps"]))


def is_pose_set(path: Path) -> bool:
    """True for an NPZ written by save_pose_set (poses with takes and subjects)."""
    try:
        with np.load(path) as d:
            return {"poses", "takes", "subjects", "take"} <= set(d.files)
    except (OSError, ValueError):
        return False


def save_pose_set(pose_set: PoseSet, path: Path) -> None:
    """Write a pose set (e.g. to carry a built training set to another machine)."""
    _save_cache(path, pose_set)


def load_archive(path: Path, progress: ProgressFn | None = None) -> PoseSet:
    """Pose set of a known archive, built once and cached by checksum."""
    kind = archive_kind(path)
    if kind is None:
        raise InputError(f"{path}: unknown archive; known: {', '.join(ARCHIVES)}")
    cached = cache_dir() / f"{kind}-{file_digest(path, 16)}-v{CACHE_VERSION}.npz"
    if cached.exists():
        return _load_cache(cached)
    pose_set = pose_set_from_takes(ARCHIVES[kind](path), progress)
    _save_cache(cached, pose_set)
    return pose_set


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Files from a mix of files, folders (recursive) and glob patterns, sorted and de-duplicated."""
    from glob import glob

    from gfpose_cli.io import READ_FORMATS
    from gfpose_cli.io.keypoints2d import is_openpose_folder, is_yolo_folder

    def is_frames(folder: Path) -> bool:
        return is_openpose_folder(folder) or is_yolo_folder(folder)

    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir() and is_frames(p):
            found.append(p)  # a detector's folder of frames (OpenPose, Pose2Sim, Sports2D, YOLO labels) is one take
        elif p.is_dir():
            entries = list(p.rglob("*"))  # one walk of the tree
            takes = sorted(q for q in entries if q.is_dir() and is_frames(q))  # such folders inside: one take each
            inside = set(takes)
            found += takes + sorted(q for q in entries if q.is_file() and inside.isdisjoint(q.parents)
                                    and (q.suffix.lstrip(".").lower() in READ_FORMATS or archive_kind(q)))
        elif p.exists():
            found.append(p)
        else:
            matches = sorted(glob(item, recursive=True))
            if not matches:
                raise InputError(f"{item}: no such file, folder or matching files")
            found += [Path(m) for m in matches if Path(m).is_file() or is_frames(Path(m))]
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError(f"no input files found in {', '.join(items)}")
    return unique


def load_pose_files(paths: Iterable[Path], progress: ProgressFn | None = None, skeleton_map: str | None = None,
                    units: str | None = None, skipped: list[tuple[str, str]] | None = None,
                    force_read: bool = False) -> PoseSet:
    """Pose set from archives and pose files (NPZ, CSV, BVH, ASF/AMC, C3D); user files count as training data.

    Every performer of a multi-subject C3D becomes its own take. With a skipped list, a file that
    cannot be used (unreadable, unmappable, 2D) is recorded there as (file, reason) and training
    goes on with the rest, as a studio folder often holds a prop or calibration take; without
    it the first such file stops the load.
    """

    sets = []
    for path in paths:
        try:
            if archive_kind(path):
                sets.append(load_archive(path, progress))
                continue
            if path.suffix.lower() == ".npz" and is_pose_set(path):
                sets.append(_load_cache(path))
                continue
            if path.suffix.lower() == ".asf" and any(path.parent.glob("*.amc")):
                continue  # the skeleton of the motions beside it, not a take of its own
            origin = public_origin(path)
            for name, take in _user_takes(path, skeleton_map, units, skipped, force_read):
                if take.dim != 3 or take.positions.ndim != 3:
                    raise InputError(f"{path}: training needs 3D poses (frames, 17, 3), got {take.positions.shape}")
                from gfpose_cli.io import marker_csv

                sequence = take.provenance.format in ("bvh", "c3d", "trc", "tsv", "mvnx", "mat", "amc") or (  # not a pose collection
                    take.provenance.format == "csv" and marker_csv.layout(Path(take.provenance.path)) is not None)
                positions, mask, fps, subject = take.positions, take.mask, take.fps, f"user:{name}"
                if origin is not None:  # a file of a public database: its family, subject and quirks
                    subject = f"{origin.family}:{origin.subject}"
                    fps = origin.fps or fps
                    positions, mask = positions[origin.skip:], mask[origin.skip:]
                whole = mask.all(1) & np.isfinite(positions).all((1, 2))
                if not whole.any():  # a lower-body or partial marker set: nothing to learn whole poses from
                    unseen = [j for j, seen in zip(JOINTS, mask.any(0)) if not seen]
                    why = (f"{path}{f' ({name})' if name != path.stem else ''}: no frame holds all 17 joints "
                           + (f"({', '.join(unseen)} never seen); training needs whole poses" if unseen else
                              "(each frame misses one or more); training needs whole poses (`gfpose complete` "
                              "fills the gaps)"))
                    if skipped is None:
                        raise InputError(why)
                    skipped.append((f"{path} ({name})" if name != path.stem else str(path), why))
                    continue
                sets.append(pose_set_from_takes([(name, subject, positions, mask, fps)], progress,
                                                drop_glitches=sequence))
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append((str(path), exc.template))  # {parameter} fields kept: each face words them
    if not sets:
        raise InputError("none of the training inputs could be used" + (
            f" ({len(skipped)} skipped: {skipped[0][1]})" if skipped else ""))
    return PoseSet.concat(sets)


@dataclass(frozen=True)
class PublicOrigin:
    """Where a downloaded file comes from, as the archives' readers know it."""

    family: str  # cmu (the cgspeed BVH), cmuamc, cmuc3d, hdm05, accad
    subject: str
    fps: float | None = None  # the true rate where the file's own is wrong or absent
    skip: int = 0  # leading frames that are no motion (the cgspeed BVH's T-pose)


def public_origin(path: Path) -> PublicOrigin | None:
    """A file of the public databases the shipped weights were trained on, recognised by its name
    as the databases publish it, so that training on the downloads (README, Training data) holds
    out the same subjects (HELD_OUT) and reads each file as the archives' readers do:

    - CMU (mocap.cs.cmu.edu): `<subject>_<trial>` files; BVH of the cgspeed conversion (family
      cmu, frame 0 a T-pose, dance-salsa at 60 fps), ASF/AMC originals (cmuamc; AMC has no rate:
      120 Hz, 141_01 at 30), marker C3D (cmuc3d).
    - HDM05: `HDM_<actor>_...amc` (hdm05).
    - ACCAD Open Motion Project: BVH under a `Male1`, `Male2`, `Female1` ... folder (accad).
    """
    path = Path(path)
    stem, suffix = path.stem, path.suffix.lower()
    cmu = re.fullmatch(r"(\d{2,3})_(\d{2,3})", stem)
    if cmu:
        subject = f"{int(cmu.group(1)):02d}"
        if suffix == ".bvh":
            return PublicOrigin("cmu", subject, CMU_TRUE_FPS.get(path.parent.name), skip=1)
        if suffix == ".amc":
            return PublicOrigin("cmuamc", subject, CLIP_FPS.get(path.name, 120.0))
        if suffix == ".c3d":
            return PublicOrigin("cmuc3d", subject)
    hdm = re.match(r"HDM_([a-z]{2})_", path.name)
    if hdm and suffix == ".amc":
        return PublicOrigin("hdm05", hdm.group(1), 120.0)
    if suffix == ".bvh" and re.fullmatch(r"(Male|Female)\d+", path.parent.name):
        return PublicOrigin("accad", path.parent.name)
    return None


def _user_takes(path: Path, skeleton_map: str | None, units: str | None,
                skipped: list[tuple[str, str]] | None, force_read: bool = False) -> Iterator[tuple[str, Take]]:
    """(take name, Take) for a user file: one per performer of a multi-subject C3D (io.read_performers,
    as every other command reads them). A performer that cannot be read is refused (skipped None) or
    listed in skipped with why."""
    from gfpose_cli import io

    takes, left = io.read_performers(path, skeleton_map=skeleton_map, units=units, force_read=force_read)
    if left:
        if skipped is None:
            raise InputError(left[0])
        skipped.extend((str(path), line) for line in left)
    several = len(takes) + len(left) > 1
    for take in takes:
        yield (f"{path.stem}:{take.provenance.subject}" if several else path.stem), take
