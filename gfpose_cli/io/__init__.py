"""Readers and writers: `read(path) -> Take`, `write(take, path)`; format chosen by extension.

Every reader returns 3D poses in metres in the canonical Z-up frame (or 2D in pixels).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import READ_ANYWAY, ImplausibleInput, InputError, ParameterError
from gfpose_cli.core.frames import CAMERA_TO_Z_UP, Y_UP_TO_Z_UP, up_rotation
from gfpose_cli.io.maps import SkeletonMap, auto_map, load_map, missing_note, normalise_name, preset_names
from gfpose_cli.io.maps.rig import RIG_TREE, head_top_checked, rig_map, spine_checked
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import MAX_COORDINATE, Provenance, Take
from gfpose_cli.io import csv as csv_io
from gfpose_cli.io import npz as npz_io

READ_FORMATS = ("npz", "csv", "bvh", "amc", "c3d", "trc", "tsv", "mvnx", "mat", "json")
WRITE_FORMATS = ("npz", "csv", "bvh", "c3d", "trc", "tsv")
#: the output formats that hold one pose per frame (S hypotheses go to NPZ or CSV, or are aggregated)
ONE_POSE_FORMATS = ("bvh", "c3d", "trc", "tsv")


def one_pose_per_frame(where: str, kind: str, hypotheses: int | None = None) -> str:
    """Why S hypotheses per frame cannot be written to a file of kind (one of ONE_POSE_FORMATS, as said: TRC)."""
    some = f"all {hypotheses} hypotheses" if hypotheses else "all hypotheses"
    return (f"{where}: {kind} files hold one pose per frame; pass {{aggregate}} mean (or median), "
            f"or write {some} to NPZ or CSV")


#: what to do with files of formats gfpose does not read, which users have beside their takes
OTHER_FORMATS = {
    **dict.fromkeys(("fbx", "glb", "gltf", "blend", "ma", "mb", "max", "usd", "usda", "usdc"),
                    "a 3D scene: export the character's animation as BVH (Blender, MotionBuilder, Maya: File > Export)"),
    **dict.fromkeys(("mot", "sto"), "an OpenSim motion or storage of joint angles and forces; gfpose reads positions: "
                                    "give it the trial's TRC or C3D"),
    "npy": "one bare array: save it as NPZ with its name and rate (np.savez('take.npz', poses=array, fps=30))",
    **dict.fromkeys(("pkl", "pickle", "pt", "pth"), "pickled Python objects, which gfpose does not load (they can "
                                                    "run code): save the arrays as NPZ"),
    **dict.fromkeys(("h5", "hdf5"), "HDF5 (DeepLabCut's own output): export its CSV (analyze_videos(..., "
                                    "save_as_csv=True)), which gfpose reads"),
    **dict.fromkeys(("xlsx", "xls", "ods"), "a spreadsheet workbook: save the sheet as CSV"),
    "txt": "text: name its format with {from} (a BVH or TRC saved as .txt: --from bvh); YOLO pose labels are read "
           "by their folder (give the folder)",
    **dict.fromkeys(("mp4", "mov", "avi", "mkv", "jpg", "jpeg", "png"), "a video or image: run a 2D pose detector on it "
                                                                        "(OpenPose, MMPose, YOLO pose) and lift its output"),
}


def format_of(path: Path, fmt: str | None = None) -> str:
    """The format named by fmt or by the file extension."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt in OTHER_FORMATS:
        raise InputError(f"{path}: gfpose does not read .{fmt} files, {OTHER_FORMATS[fmt]}")
    if fmt not in READ_FORMATS:
        raise InputError(f"{path}: unsupported format '{fmt or '(no extension)'}'; supported: {', '.join(READ_FORMATS)} (name it with {{from}})")
    return fmt


def rest_up(rest: np.ndarray) -> tuple[np.ndarray, str]:
    """The rotation making a skeleton's up (ankles to head in its 17-joint rest pose) +Z, and its label.

    The rest pose (offsets with zero rotations) is used rather than the motion, because a take
    may spend its time bent over or lying down.
    """
    head, ankles = JOINTS.index("Head"), [JOINTS.index("RAnkle"), JOINTS.index("LAnkle")]
    up = rest[head] - rest[ankles].mean(0)
    axis = int(np.argmax(np.abs(up)))
    return up_rotation(up), ("+" if up[axis] > 0 else "-") + "XYZ"[axis]


def _rest_17(smap: SkeletonMap, names: list[str], rest: np.ndarray, where: str) -> np.ndarray:
    return smap.apply(names, rest[None], where=where)[0][0]


#: length units a file may be in, as metres per unit (`acclaim` is the CMU/ASF unit, inches / 0.45)
UNIT_NAMES = {"m": 1.0, "dm": 0.1, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048, "acclaim": 0.0254 / 0.45}


def parse_units(text: str | float | None) -> tuple[float, str] | None:
    """Metres per file unit from a unit name (m, cm, mm, in, ft, acclaim) or a number; None stays None."""
    if text is None or text == "":
        return None
    name = str(text).strip().lower()
    if name in UNIT_NAMES:
        return UNIT_NAMES[name], name
    try:
        value = float(name)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise ParameterError("units", f"{text}: give a unit ({', '.join(UNIT_NAMES)}) or metres per file unit (e.g. 0.01)")
    return value, f"{value:g} m"


def read_bvh(path: Path, skeleton_map: str | SkeletonMap | None = None,
             units: tuple[float, str] | None = None) -> Take:
    """Read a BVH file into a 17-joint Take (metres, Z up) through a skeleton map."""
    from gfpose_cli.io import bvh as bvh_io

    skel = bvh_io.read_skeleton(path)
    return take_from_bvh(skel, path, skeleton_map, units)


def take_from_bvh(skel, path, skeleton_map=None, units: tuple[float, str] | None = None) -> Take:
    """Forward kinematics, units, map and axes for a parsed BVH skeleton.

    BVH has no unit field, so without units (metres per unit, name) the unit is guessed from the
    rest pose's height; the guess is reported, and units (--units) overrides it.
    """
    from gfpose_cli.io import bvh as bvh_io

    world = bvh_io.forward_kinematics(skel)
    rest = _rest_positions(skel)
    smap = skeleton_map if isinstance(skeleton_map, SkeletonMap) else (
        load_map(skeleton_map) if skeleton_map else rig_map(skel.names, skel.parents, rest, str(path)))
    _unique_sources(smap, skel.names, str(path))
    smap, head_note = head_top_checked(smap, skel.names, rest)
    spine_note = None
    if not isinstance(skeleton_map, SkeletonMap) and (skeleton_map is None or str(skeleton_map) in preset_names()):
        smap, spine_note = spine_checked(smap, skel.names, skel.parents, rest)  # a user's own map is taken as written
    rest17 = _rest_17(smap, skel.names, rest, str(path))
    if units is None:
        span = float(np.linalg.norm(rest17[JOINTS.index("Head")] - rest17[[JOINTS.index("RAnkle"), JOINTS.index("LAnkle")]].mean(0)))
        if not np.isfinite(span):
            raise InputError(f"{path}: its rig has no head or no ankles to guess the length unit from; pass {{units}}")
        scale, unit_name = bvh_io.unit_scale(span)
    else:
        scale, unit_name = units
    poses, mask = smap.apply(skel.names, world * scale, where=str(path))
    rot, up = rest_up(rest17)
    note = f"{path}: {missing_note(smap, skel.names, 'joints')}" if smap.partial else None
    if smap.name == RIG_TREE and not note:
        note = (f"{path}: no rig preset names its joints; the 17 joints were {smap.description}: check them, and keep "
                "the map for the lab's other takes with `gfpose maps FILE --init -o mymap.toml`")
    elif (head_note or spine_note) and not note:
        note = f"{path}: {'; '.join(n for n in (head_note, spine_note) if n)}"
    elif smap.estimated and not note:
        note = (f"{path}: {', '.join(smap.estimated)} estimated by map '{smap.name}' (the rig has no joint there; "
                "its description says how)")
    return Take(
        positions=(poses @ rot.T).astype(np.float32),
        mask=mask,
        fps=skel.fps,
        provenance=Provenance(path=str(path), format="bvh", map=smap.name, units=unit_name, units_to_m=scale, up=up,
                              bind_frames=tuple(bind_frames(skel)),
                              warnings=tuple(f"{path}: {n}" for n in skel.notes) + ((note,) if note else ())),
        writeback=bvh_io.BvhWriteBack(skeleton=skel, skeleton_map=smap, to_canonical=rot, units_to_m=scale),
    )


def _unique_sources(smap: SkeletonMap, names: list[str], where: str) -> None:
    """Refuse a rig where a name the map reads belongs to two joints (which one is meant is not known)."""
    seen: dict[str, int] = {}
    for n in names:
        seen[normalise_name(n)] = seen.get(normalise_name(n), 0) + 1
    twice = [n for n in smap.resolved_sources(names) if seen[normalise_name(n)] > 1]
    if twice:
        raise InputError(f"{where}: its rig names two joints {twice[0]!r}, and map '{smap.name}' reads that name: rename "
                         "one in the capture software, or pass {map} with a map that reads neither")


def bind_frames(skel) -> list[int]:
    """[0] when frame 0 is a rest/bind pose (its joint rotations nearly all exactly zero, unlike the
    next frame's), else []. Tasks leave such a frame as it is: it is not part of the motion."""
    cols = [skel.channel_start[j] + k for j, ch in enumerate(skel.channels) if skel.parents[j] >= 0
            for k, c in enumerate(ch) if c.endswith("rotation")]
    if len(skel.motion) < 3 or not cols:
        return []
    zero = np.abs(skel.motion[:2][:, cols]) < 1e-6
    share = zero.mean(1)
    return [0] if share[0] >= 0.8 and share[0] - share[1] >= 0.3 else []


def read_amc(amc_path: Path, asf_path: Path | None = None, skeleton_map: str | SkeletonMap | None = None,
             asf_text: str | None = None, amc_text: str | None = None) -> Take:
    """Read an Acclaim AMC motion with its ASF skeleton (by default the only .asf beside it)."""
    from gfpose_cli.io import amc

    if asf_text is None:
        if asf_path is None:
            found = sorted(Path(amc_path).parent.glob("*.asf"))
            if len(found) != 1:
                raise InputError(f"{amc_path}: expected exactly one .asf skeleton beside it, found {len(found)}")
            asf_path = found[0]
        asf_text = amc.read_text(asf_path)
    skel = amc.parse_asf(asf_text, str(asf_path))
    motion, numbers = amc.parse_amc(amc_text if amc_text is not None else amc.read_text(amc_path), skel, str(amc_path))
    back = np.flatnonzero(np.diff(numbers) <= 0)
    if len(back):
        raise InputError(f"{amc_path}: its frame numbers go from {numbers[back[0]]} to {numbers[back[0] + 1]}: frames "
                         "repeated or out of order")
    names, world = amc.forward_kinematics(skel, motion)
    rest_motion = {k: np.zeros((1, v.shape[1])) for k, v in motion.items()}
    _, rest = amc.forward_kinematics(skel, rest_motion)
    smap = skeleton_map if isinstance(skeleton_map, SkeletonMap) else (
        load_map(skeleton_map) if skeleton_map else auto_map(names, str(amc_path), kind="rig"))
    poses, mask = smap.apply(names, world, where=str(amc_path))
    rot, up = rest_up(_rest_17(smap, names, rest[0], str(amc_path)))
    warnings = []
    skipped = [(int(a) + 1, int(b) - 1) for a, b in zip(numbers[:-1], numbers[1:]) if b - a > 1]
    if skipped:  # a frame missing from the file stays empty in its place, so the take keeps its clock
        placed = np.full((numbers[-1] - numbers[0] + 1, *poses.shape[1:]), np.nan)
        placed_mask = np.zeros(placed.shape[:2], bool)
        placed[numbers - numbers[0]], placed_mask[numbers - numbers[0]] = poses, mask
        poses, mask = placed, placed_mask
        spans = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in skipped[:4]) + (", ..." if len(skipped) > 4 else "")
        warnings.append(f"{amc_path}: its frame numbers skip {spans} ({sum(b - a + 1 for a, b in skipped)} frames in all): "
                        "left empty in their place, so the take keeps its timing")
    return Take(positions=(poses @ rot.T).astype(np.float32), mask=mask, fps=120.0,
                provenance=Provenance(path=str(amc_path), format="amc", map=smap.name, up=up,
                                      first_frame=int(numbers[0]), warnings=tuple(warnings)))



def check_take(take: Take, path: Path) -> Take:
    """The checks every reader's output passes before any work starts (README, exit codes).

    Frames, frame rate, and coordinates (finite and believable where observed) are checked here
    once, so a damaged number in any format gets the same one-line answer naming frame and joint.
    """
    if take.n_frames == 0 and take.shard is None:  # a shard may hold none (more shards than chunks of work)
        raise InputError(f"{path}: holds no frames")
    if not np.isfinite(take.fps) or not 0 < take.fps <= 1e5:
        raise InputError(f"{path}: frame rate {take.fps:g} is not usable; expected a positive rate up to 100000 Hz")
    p = take.positions
    observed = take.mask if p.ndim == 3 else take.mask[:, None, :].repeat(p.shape[1], 1)
    with np.errstate(invalid="ignore"):
        bad = observed & ~(np.abs(p) <= MAX_COORDINATE).all(-1)
    if bad.any():
        where = np.argwhere(bad)[0]
        value = p[tuple(where)][np.argmax(~(np.abs(p[tuple(where)]) <= MAX_COORDINATE))]
        raise InputError(f"{path}: frame {where[0]}, joint {JOINTS[where[-1]]}: coordinate {value:g} is out of range; "
                         "the file looks damaged (mark missing joints with NaN)")
    for name in ("root", "confidence"):
        extra = getattr(take, name)
        if extra is not None and np.isinf(extra).any():
            raise InputError(f"{path}: frame {int(np.argwhere(np.isinf(extra))[0][0])}: infinite {name} value")
    return take


def _in_units(take: Take, unit: tuple[float, str], path: Path) -> Take:
    """An NPZ or CSV take of 3D poses stored in another unit than the schema's metres (a Human3.6M-style
    file in mm), given with --units: scaled to metres, the unit recorded."""
    if take.dim != 3:
        raise InputError(f"{path}: holds 2D keypoints, which are in pixels; drop {{units}}")
    scale, name = unit
    return replace(take, positions=(take.positions * scale).astype(take.positions.dtype),
                   root=None if take.root is None else (take.root * scale).astype(take.root.dtype),
                   provenance=take.provenance.but(units=name, units_to_m=scale))


def read(path: str | Path, fmt: str | None = None, skeleton_map: str | None = None,
         subject: str | None = None, units: str | float | None = None, *, force_read: bool = False,
         sanity: bool = True) -> Take:
    """Read any supported file into a Take.

    fmt overrides the extension; skeleton_map is a preset name or .toml; subject a C3D label
    prefix; units (a name such as cm, or metres per unit) overrides a BVH's guessed unit or a
    C3D's POINT:UNITS, for files that get it wrong. A 3D take then passes the body check
    (io.sanity): implausible limbs or joints at the origin are refused unless force_read; what is
    only odd lands in take.provenance.warnings. sanity=False skips it (scoring predictions).
    """
    path = Path(path)
    unit = parse_units(units)
    try:
        raw = _read(path, fmt, skeleton_map, subject, unit)
    except ImplausibleInput:
        if not force_read:
            raise
        token = READ_ANYWAY.set(True)  # the reader warns what it would refuse
        try:
            raw = _read(path, fmt, skeleton_map, subject, unit)
        finally:
            READ_ANYWAY.reset(token)
    take = check_take(raw, path)
    if take.dim == 2 and take.confidence is not None:
        from gfpose_cli.io.keypoints2d import confident_only

        take = confident_only(take)
    if sanity and take.dim == 3 and take.positions.ndim == 3:
        from gfpose_cli.io.sanity import check_body

        warnings = check_body(take.positions, take.mask, str(path), force=force_read,
                              units_to_m=take.provenance.units_to_m or 1.0)
        take.provenance = take.provenance.but(warnings=take.provenance.warnings + tuple(warnings))
    if sanity and take.dim == 3 and take.provenance.format in ("npz", "csv") and not take.provenance.camera_frame:
        from gfpose_cli.io.sanity import frame_warning

        first = take.positions if take.positions.ndim == 3 else take.positions[:, 0]  # hypotheses: the first
        lying = frame_warning(first, take.mask, str(path), take.provenance.format.upper())
        if lying:
            take.provenance = take.provenance.but(warnings=take.provenance.warnings + (lying,))
    return take


def subjects_in(path: str | Path, fmt: str | None = None) -> list[str]:
    """The performers (label prefixes) of a C3D file or a Motive / Nexus / Qualisys export, most markers
    first, for `--subject all`; refuses a file with none, or of another format."""
    path = Path(path)
    performers = _performers_of(path, fmt)
    if performers is None:
        raise InputError(f"{path}: {{subject}} all is for C3D files and Motive, Nexus or Qualisys exports with several "
                         "performers")
    found = performers(path)
    if not found:
        raise InputError(f"{path}: its marker labels carry no subject prefix (like Derrick:); drop {{subject}}")
    return found


def holds_performers(path: str | Path, fmt: str | None = None) -> bool:
    """Whether a file is of a format that may hold several performers (a C3D, a Motive / Nexus / Qualisys
    export), so a subject picks one of them."""
    return _performers_of(Path(path), fmt) is not None


def _performers_of(path: Path, fmt: str | None):
    """The function that lists a file's performers (label prefixes): a C3D's or a Motive / Nexus / Qualisys
    export's; None for a file of another format, which holds one performer."""
    kind = format_of(path, fmt) if path.is_file() else None
    if kind == "c3d":
        from gfpose_cli.io.c3d import performers

        return performers
    if kind in ("csv", "tsv") and _marker_file(path, fmt):
        from gfpose_cli.io.marker_csv import performers

        return performers
    return None


def read_performers(path: str | Path, fmt: str | None = None, skeleton_map: str | None = None,
                    subject: str | None = None, units: str | float | None = None, *,
                    force_read: bool = False) -> tuple[list[Take], list[str]]:
    """Every performer of a file, each as its own take: a C3D or a Motive / Vicon CSV export whose labels
    carry several subject prefixes (Derrick:, Daphnee:) gives one take per subject whose markers make a body, unless
    subject names one; any other file gives one take. Returns the takes and, for each performer
    left out, one sentence saying why (a prop under a subject prefix, a set no map knows). Refuses
    when no performer can be read."""
    path = Path(path)
    performers = _performers_of(path, fmt) if subject is None else None
    if performers is not None:
        who = performers(path)
        if len(who) > 1:
            takes, left = [], []
            for name in who:
                try:
                    takes.append(read(path, fmt, skeleton_map, name, units, force_read=force_read))
                except InputError as exc:
                    left.append(f"{path}: performer {name} left as it was: {exc.template.removeprefix(f'{path}: ')}")
            if not takes:
                raise InputError(f"{path}: none of its performers ({', '.join(who)}) could be read; "
                                 + "; ".join(line.split(' left as it was: ', 1)[-1] for line in left[:2]))
            return takes, left
    return [read(path, fmt, skeleton_map, subject, units, force_read=force_read)], []


def write_performers(takes: list[Take], path: str | Path, fmt: str | None = None, force: bool = True,
                     add_joints: bool = False) -> dict:
    """Write the takes of read_performers: one take as write does; several (the performers of one
    C3D or CSV export) back into one copy of their file. Other formats hold one performer: refused with
    the way out."""
    if len(takes) == 1:
        return write(takes[0], path, fmt=fmt, force=force, add_joints=add_joints)
    path = Path(path)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    subjects = ", ".join(str(t.provenance.subject) for t in takes)
    from gfpose_cli.io import marker_csv

    if kind in ("csv", "tsv") and all(isinstance(t.writeback, marker_csv.CsvWriteBack) for t in takes):
        if add_joints:
            raise InputError(f"{path}: {{add_joints}} adds joint points to a C3D output; this output is {kind.upper()}")
        return marker_csv.write_performers(takes, path, force)
    if kind != "c3d":
        raise InputError(f"{path}: {len(takes)} performers ({subjects}) go back into one C3D file (or the CSV export "
                         f"they came from); for a {kind.upper() or 'file'} output pick one with {{subject}}")
    if add_joints:
        raise InputError(f"{path}: {{add_joints}} writes one performer's joints; pick one with {{subject}}")
    from gfpose_cli.io import c3d

    return c3d.write_performers(takes, path, force)


def _read(path: Path, fmt: str | None, skeleton_map: str | None, subject: str | None,
          unit: tuple[float, str] | None) -> Take:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        from gfpose_cli.io import keypoints2d

        if keypoints2d.is_openpose_folder(path):
            return keypoints2d.rate_assumed(keypoints2d.read_openpose(path))
        if keypoints2d.is_yolo_folder(path):
            return keypoints2d.rate_assumed(keypoints2d.read_yolo(path))
        raise InputError(f"{path}: is a folder, expected a file (or an OpenPose *_keypoints.json folder, or YOLO pose "
                         "labels *.txt)")
    kind = format_of(path, fmt)
    if kind in ("csv", "tsv"):
        from gfpose_cli.io import marker_csv

        found = marker_csv.layout(path)
        if found and (kind == "tsv") == (found == "qtm"):  # a Motive, Nexus or QTM export: markers, as a C3D's
            return marker_csv.read(path, skeleton_map, subject, unit)
        if kind == "tsv":
            raise InputError(f"{path}: not a Qualisys TSV export (its first line should be NO_OF_FRAMES and a count)")
    if unit is not None and kind not in ("bvh", "c3d", "trc", "mat", "npz", "csv"):
        raise InputError(f"{path}: {{units}} applies to 3D mocap files (BVH, C3D, TRC, NPZ, CSV, marker exports); "
                         f"{kind.upper()} files are in pixels or their own units")
    if kind in ("npz", "csv"):
        take = npz_io.read(path) if kind == "npz" else csv_io.read(path)
        return _in_units(take, unit, path) if unit is not None else take
    if kind == "json":
        from gfpose_cli.io import keypoints2d

        return keypoints2d.rate_assumed(keypoints2d.read_coco(path))
    if kind == "c3d":
        from gfpose_cli.io import c3d

        return c3d.read(path, skeleton_map, subject, unit)
    if kind == "trc":
        from gfpose_cli.io import trc

        if subject is not None:
            raise InputError(f"{path}: a TRC file holds one performer's markers; drop {{subject}}")
        return trc.read(path, skeleton_map, unit)
    if kind == "mat":
        from gfpose_cli.io import qtm_mat

        if subject is not None:
            raise InputError(f"{path}: a QTM MAT export holds one take's markers; drop {{subject}}")
        return qtm_mat.read(path, skeleton_map, unit)
    if kind == "mvnx":
        from gfpose_cli.io import mvnx

        if subject is not None:
            raise InputError(f"{path}: an MVNX file holds one performer's segments; drop {{subject}}")
        return mvnx.read(path, skeleton_map)
    if kind == "amc":
        return read_amc(path, skeleton_map=skeleton_map)
    return read_bvh(path, skeleton_map, unit)


def write(take: Take, path: str | Path, fmt: str | None = None, force: bool = True, add_joints: bool = False,
          into_source: bool = True) -> dict:
    """Write a Take; the format follows the extension (npz, csv, bvh, c3d, trc, tsv). Returns a summary dict.

    With into_source, BVH, C3D and TRC outputs of a take read from the same format go back into a copy
    of the source file (its skeleton or markers follow the edited joints); otherwise they hold
    the 17 joints.
    """
    if not into_source:
        take = replace(take, writeback=None)
    path = Path(path)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if add_joints and kind != "c3d":
        raise InputError(f"{path}: {{add_joints}} adds joint points to a C3D output; this output is {kind or 'unnamed'}")
    if kind == "npz":
        npz_io.write(take, path, force)
    elif kind == "csv":
        from gfpose_cli.io import marker_csv

        back = take.writeback
        if isinstance(back, marker_csv.CsvWriteBack) and Path(back.path).exists() and back.layout != "qtm":
            return marker_csv.write(take, path, force)  # into a copy of the Motive or Vicon export it came from
        csv_io.write(take, path, force)
        if take.provenance.camera_frame and take.dim == 3:  # the CSV schema has no place for it
            return {"camera_frame": True}
    elif kind == "tsv":
        from gfpose_cli.io import marker_csv

        back = take.writeback
        if not (isinstance(back, marker_csv.CsvWriteBack) and Path(back.path).exists() and back.layout == "qtm"):
            raise InputError(f"{path}: a TSV output goes back into the Qualisys TSV export its take was read from; "
                             "this take has none: write C3D, TRC, CSV, BVH or NPZ")
        return marker_csv.write(take, path, force)
    elif kind == "c3d":
        from gfpose_cli.io import c3d

        return c3d.write(take, path, force, add_joints)
    elif kind == "trc":
        from gfpose_cli.io import trc

        return trc.write(take, path, force)
    elif kind == "bvh":
        return write_bvh(take, path, force)
    else:
        raise InputError(f"{path}: cannot write format '{kind or '(no extension)'}'; supported: {', '.join(WRITE_FORMATS)}")
    return {}


def source_markers(take: Take) -> np.ndarray | None:
    """The markers (F, K, 3; metres, Z up; NaN where missing) of the C3D or TRC a take was read from, for
    drawing them beside its joints; None for a take that did not come from one."""
    from gfpose_cli.io.c3d import C3DWriteBack

    return take.writeback.markers if isinstance(take.writeback, C3DWriteBack) else None


def world_poses(take: Take, where: str) -> np.ndarray:
    """(F, 17, 3) metres, Z up: single poses in the canonical frame, whatever task produced them."""
    kind = Path(where).suffix.lstrip(".").upper() or "this"
    if take.dim != 3:
        raise InputError(f"{where}: {kind} outputs hold 3D poses; these are 2D keypoints (lift them to 3D, or "
                         "write NPZ or CSV)")
    if take.positions.ndim == 4 and take.positions.shape[1] == 1:
        take = take.with_positions(take.positions[:, 0], take.mask)
    if take.positions.ndim == 4:
        raise InputError(one_pose_per_frame(where, kind))
    poses = take.positions.astype(np.float64)
    if take.provenance.camera_frame:
        poses = poses @ CAMERA_TO_Z_UP.T
    return poses


def write_bvh(take: Take, path: Path, force: bool = True, units_to_m: float = 0.01) -> dict:
    """BVH output: back into the source skeleton when the take came from a BVH, else a fresh
    17-joint skeleton (Y up, centimetres as MotionBuilder and Maya expect). Returns the largest
    distance (metres) between a requested joint position and the written skeleton's."""
    from gfpose_cli.io import bvh as bvh_io
    from gfpose_cli.util.atomic import atomic_path
    from gfpose_cli.io.bvh_retarget import fresh_skeleton, retarget

    poses = world_poses(take, str(path))
    back = take.writeback if isinstance(take.writeback, bvh_io.BvhWriteBack) else None
    skel = back.skeleton if back is not None else None
    if back is not None and len(poses) == skel.motion.shape[0]:
        rot, scale, smap = back.to_canonical, back.units_to_m, back.skeleton_map
        fk = bvh_io.forward_kinematics(skel, with_rotations=True)  # computed once, used by retarget too
        original, _ = smap.apply(skel.names, fk[0])
        was = (original * scale) @ rot.T
        # (F, 17): a change within float32 rounding of the value read is no edit
        edited = np.abs(poses - was).max(-1) > 1e-6 * np.maximum(1.0, np.abs(was).max(-1))
        targets = np.where(edited[..., None], (np.nan_to_num(poses) @ rot) / scale, original)
        motion = retarget(skel, smap, targets, take.mask & edited.any(1, keepdims=True), fk)
        text = bvh_io.dumps(skel, motion)
        got, _ = smap.apply(skel.names, bvh_io.forward_kinematics(skel, motion))
        error = np.abs(got - targets)[take.mask].max(initial=0.0) * scale
        mode = "source skeleton"
    else:
        if not take.mask.all():
            f, j = np.argwhere(~take.mask)[0]
            raise InputError(f"{path}: frame {f} misses joint {JOINTS[j]}; a BVH cannot hold gaps: "
                             "run `gfpose complete` first or write NPZ")
        targets = (poses @ Y_UP_TO_Z_UP) / units_to_m
        skel = fresh_skeleton(targets, take.fps)
        text = bvh_io.dumps(skel)
        got = bvh_io.forward_kinematics(skel)[:, [skel.names.index(j) for j in JOINTS]]
        error = np.abs(got - targets).max(initial=0.0) * units_to_m
        mode = "17-joint skeleton"
    with atomic_path(path, force) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")  # the source's line endings, on any OS
    return {"bvh": mode, "max_error_m": float(error)}


class _SourceNames(Exception):
    def __init__(self, names: list[str], positions, observed) -> None:  # noqa: ANN001
        super().__init__("source names")
        self.names = names
        self.positions = positions
        self.observed = observed


def _what_a_map_sees(path: Path, fmt: str | None, subject: str | None,
                     unit: tuple[float, str] | None) -> _SourceNames | None:
    """The names, positions and valid samples a file's reader hands to its map: read through the same
    readers as read, stopping where they would apply the map (so a file no preset maps still gives
    them); None when the reader stops before."""
    from gfpose_cli.io.maps import SkeletonMap

    class Catcher(SkeletonMap):
        def apply(self, names, positions, observed=None, where="input"):  # noqa: ANN001, ANN201
            raise _SourceNames(list(names), positions, observed)

    try:
        _read(path, fmt, Catcher(name="catch", description="", joints={}), subject, unit)  # type: ignore[arg-type]
    except _SourceNames as found:
        return found
    return None


def _marker_file(path: Path, fmt: str | None) -> bool:
    """Whether a file holds named markers (or named points read as markers): a C3D, a TRC, a Motive or
    Vicon CSV export, a Qualisys TSV or MAT export, an Xsens MVNX."""
    kind = format_of(path, fmt)
    if kind in ("csv", "tsv"):
        from gfpose_cli.io import marker_csv

        return marker_csv.layout(Path(path)) is not None
    return kind in ("c3d", "trc", "mat", "mvnx")


def marker_trajectories(path: str | Path, fmt: str | None = None, subject: str | None = None,
                        units: str | float | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A C3D's marker names (points that are not markers carry a \x00 mark), positions (F, N, 3;
    metres, the file's axes) and which samples are valid, as the reader hands them to a map: what
    a map is learned from (`gfpose maps FILE --learn`)."""
    path = Path(path)
    if not _marker_file(path, fmt):
        raise InputError(f"{path}: a map is learned from the markers of a C3D, TRC or marker-export file (Motive / Nexus CSV, QTM TSV or MAT); this is {format_of(path, fmt).upper()}")
    found = _what_a_map_sees(path, fmt, subject, parse_units(units))
    if found is None:
        raise InputError(f"{path}: could not read its markers")
    return found.names, np.asarray(found.positions, dtype=np.float64), np.asarray(found.observed, dtype=bool)


def rig_reading(path: str | Path, fmt: str | None = None) -> tuple[SkeletonMap | None, dict[str, tuple[dict[str, float], str]]]:
    """How a BVH file's rig is read, for `maps --init`: (the map read off its tree where no preset names its
    rig (io.maps.rig), else None; the joints a preset-read rig is read at otherwise than the preset says,
    its spine where the preset's lies on the thorax (io.maps.rig.spine_checked), as joint -> (sources,
    why)). (None, {}) for a file that is not a BVH, or whose tree shows no body plainly."""
    from gfpose_cli.io import bvh as bvh_io

    path = Path(path)
    if format_of(path, fmt) != "bvh":
        return None, {}
    skel = bvh_io.read_skeleton(path)
    rest = _rest_positions(skel)
    try:
        smap = rig_map(skel.names, skel.parents, rest, str(path))
    except InputError:
        return None, {}
    if smap.name == RIG_TREE:
        return smap, {}
    checked, note = spine_checked(smap, skel.names, skel.parents, rest)
    return None, ({"Spine": (checked.joints["Spine"], f"as gfpose reads this rig: {note}")} if note else {})


def _rest_positions(skel) -> np.ndarray:
    """A BVH rig's joints at rest: its offsets summed down the tree (file units)."""
    rest = np.zeros_like(skel.offsets)
    for j, p in enumerate(skel.parents):
        rest[j] = skel.offsets[j] + (rest[p] if p >= 0 else 0)
    return rest


def source_names(path: str | Path, fmt: str | None = None, subject: str | None = None) -> tuple[list[str], str]:
    """The names a file's joints or markers go by (C3D body markers, BVH and ASF joints) and the file's
    kind ("markers" or "rig"): what a skeleton map has to name."""
    path = Path(path)
    file_format = format_of(path, fmt)
    kind = "markers" if _marker_file(path, fmt) else "rig"
    if file_format not in ("c3d", "trc", "bvh", "amc") and kind != "markers":
        raise InputError(f"{path}: only C3D, TRC, marker exports (Motive / Nexus CSV, QTM TSV or MAT, MVNX), BVH and ASF/AMC files name their own markers or joints; "
                         "2D keypoint files use the fixed COCO-17 / BODY_25 sets")
    found = _what_a_map_sees(path, fmt, subject, None)
    if found is None:
        raise InputError(f"{path}: could not list its {kind}")
    return [n for n in found.names if "\x00" not in n and n.strip()], kind
