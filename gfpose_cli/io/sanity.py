"""Is what was read a human body? A check on every 3D take before any task runs.

A reader can be wrong without failing: the wrong unit, position channels added twice, a gap
stored as zeros read as a marker at the lab origin. Each leaves a trace in the body it makes: limb
lengths no adult or child has, a joint sitting exactly on (0, 0, 0), left and right limbs of very
different length. Bounds are wide (a small child to a very tall adult, with room for marker-based
joint centres); what breaks them is refused with the figure and its likely cause, and
`force_read` (--force-read) reads the file anyway. What is only odd is a warning.
"""
from __future__ import annotations

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.core.skeleton import JOINTS

_J = {name: i for i, name in enumerate(JOINTS)}

#: (name, joint a, joint b, shortest, longest, an adult's) in metres: a ~0.9 m child to a 2.3 m adult
LIMBS = (
    ("right femur", "RHip", "RKnee", 0.15, 0.70, 0.43), ("left femur", "LHip", "LKnee", 0.15, 0.70, 0.43),
    ("right tibia", "RKnee", "RAnkle", 0.13, 0.65, 0.40), ("left tibia", "LKnee", "LAnkle", 0.13, 0.65, 0.40),
    ("right upper arm", "RShoulder", "RElbow", 0.10, 0.50, 0.29),
    ("left upper arm", "LShoulder", "LElbow", 0.10, 0.50, 0.29),
    ("right forearm", "RElbow", "RWrist", 0.08, 0.45, 0.25), ("left forearm", "LElbow", "LWrist", 0.08, 0.45, 0.25),
)
#: ankle to head along the bones, metres (a ~0.9 m child to a 2.5 m giant)
HEIGHT_RANGE = (0.6, 2.4)
#: left and right limb lengths differing by more than this factor are worth a warning
ASYMMETRY = 1.3

_TRUNK = ("Pelvis", "Spine", "Thorax", "Neck", "Head")


def _median_length(poses: np.ndarray, mask: np.ndarray, a: str, b: str) -> float | None:
    i, j = _J[a], _J[b]
    both = mask[:, i] & mask[:, j]
    if not both.any():
        return None
    return float(np.median(np.linalg.norm(poses[both, i] - poses[both, j], axis=-1)))


def _cause(ratio: float) -> str:
    """The likely cause of limbs `ratio` times their usual length."""
    if not ratio > 0:
        return "joints that coincide (the same point twice?), or markers that are not where the map expects them"
    for factor, cause in ((1000.0, "the file is in mm but read as metres"), (100.0, "the file is in cm but read as metres"),
                          (10.0, "a unit off by 10 (cm read as mm?)"), (2.0, "bones counted twice (BVH position "
                                                                          "channels added to OFFSET?)"),
                          (0.0254 / 0.01, "inches read as cm"), (0.01 / (0.0254 / 0.45), "the CMU/Acclaim unit read as cm ({units} acclaim)"), (0.001, "the file is in metres but read as mm"),
                          (0.01, "the file is in metres but read as cm"), (0.1, "a unit off by 10 (mm read as cm?)"),
                          (0.5, "half-length bones")):
        if abs(np.log(ratio / factor)) < np.log(1.35):
            return cause
    return "wrong units, or markers that are not where the map expects them"


def body_report(poses: np.ndarray, mask: np.ndarray) -> dict:
    """Median limb lengths and the ankle-to-head height of a take (metres; None where unseen)."""
    lengths = {name: _median_length(poses, mask, a, b) for name, a, b, _, _, _ in LIMBS}
    trunk = [_median_length(poses, mask, a, b) for a, b in zip(_TRUNK[:-1], _TRUNK[1:])]
    femur = [x for x in (lengths["right femur"], lengths["left femur"]) if x is not None]
    tibia = [x for x in (lengths["right tibia"], lengths["left tibia"]) if x is not None]
    height = None
    if all(t is not None for t in trunk) and femur and tibia:
        height = float(sum(trunk) + np.mean(femur) + np.mean(tibia))
    return {"lengths": lengths, "height": height}


def _units_hint(ratio: float, units_to_m: float) -> str | None:
    """The length unit that would give a person's limbs to a take read at units_to_m metres per unit whose
    limbs are ratio times a person's (a file in mm read as metres: 'mm'); None where no unit does."""
    from gfpose_cli.io import UNIT_NAMES

    if not (np.isfinite(ratio) and ratio > 0 and np.isfinite(units_to_m) and units_to_m > 0):
        return None  # a limb of no length (damaged samples) says nothing about the unit
    wanted = units_to_m / ratio
    name = min(("m", "cm", "mm", "in", "acclaim"), key=lambda n: abs(np.log(UNIT_NAMES[n] / wanted)))
    off = abs(np.log(UNIT_NAMES[name] / wanted))
    return name if off < np.log(1.35) and abs(np.log(UNIT_NAMES[name] / units_to_m)) > np.log(1.35) else None


def check_body(poses: np.ndarray, mask: np.ndarray, where: str, force: bool = False,
               units_to_m: float | None = None) -> list[str]:
    """Refuse (InputError) a take whose body cannot be right; return warnings for what is only odd.

    poses (F, 17, 3) metres, mask (F, 17). With force, refusals become warnings. units_to_m: metres per
    unit the file was read at (1 where it has no unit of its own), for the unit a refusal suggests.
    """
    problems: list[str] = []
    ratios: list[float] = []  # each problem's size against a person's
    warnings: list[str] = []
    poses = np.asarray(poses, dtype=np.float64)
    zero = mask[:, 1:] & (poses[:, 1:] == 0).all(-1)
    if zero.any():
        f, j = np.argwhere(zero)[0]
        problems.append(f"frame {f}, joint {JOINTS[j + 1]} sits exactly at the origin (0, 0, 0) "
                        f"({int(zero.sum())} samples in all): gaps stored as zeros? mark them missing (NaN)")
    report = body_report(poses, mask)
    for name, a, b, lo, hi, usual in LIMBS:
        value = report["lengths"][name]
        if value is None or lo <= value <= hi:
            continue
        problems.append(f"its {name} is {value:.3g} m long ({'longer' if value > hi else 'shorter'} than any "
                        f"person's, {lo:g}-{hi:g} m): {_cause(value / usual)}")
        ratios.append(value / usual)
        break  # one limb says it; the others usually say the same
    height = report["height"]
    if height is not None and not problems and not HEIGHT_RANGE[0] <= height <= HEIGHT_RANGE[1]:
        usual = 1.5
        problems.append(f"its ankle-to-head height is {height:.3g} m (a person: {HEIGHT_RANGE[0]:g}-{HEIGHT_RANGE[1]:g} m): "
                        f"{_cause(height / usual)}")
        ratios.append(height / usual)
    for right, left in (("right femur", "left femur"), ("right tibia", "left tibia"),
                        ("right upper arm", "left upper arm"), ("right forearm", "left forearm")):
        r, l = report["lengths"][right], report["lengths"][left]
        if r and l and max(r, l) / min(r, l) > ASYMMETRY:
            warnings.append(f"{where}: its {right} is {r * 1000:.0f} mm and {left} {l * 1000:.0f} mm long: left and "
                            "right markers swapped, or a marker off its landmark?")
    far = mask & mask[:, :1] & (np.linalg.norm(poses - poses[:, :1], axis=-1) > 2.0)
    if far.any() and not problems:
        f, j = np.argwhere(far)[0]
        warnings.append(f"{where}: frame {f}, joint {JOINTS[j]} is {np.linalg.norm(poses[f, j] - poses[f, 0]):.2g} m from "
                        f"the pelvis ({int(far.any(1).sum())} frames like it): a mislabelled or invalid sample?")
    if problems:
        if not force:
            hint = _units_hint(ratios[0], units_to_m) if units_to_m and ratios else None
            if hint:
                raise InputError(f"{where}: {problems[0]}; pass {{units}} {hint} if it is in {hint} (or {{force_read}} "
                                 "if the file is right)")
            raise InputError(f"{where}: {problems[0]}; if the file is right, pass {{force_read}}")
        warnings = [f"{where}: read anyway ({{force_read}}): {p}" for p in problems] + warnings
    return warnings


#: a take "stands along" an axis when the median direction from its ankles to its head is this close to it
STANDING_COSINE = 0.8


def standing_axis(poses: np.ndarray, mask: np.ndarray) -> str | None:
    """The axis a take's body stands along ('+Z', '-Y', ...): the median over its frames of the unit
    vector from the ankles' midpoint to the head (the pelvis to the thorax where the legs or head are
    unseen). None where no frame shows them, or the median points along no axis (a take spent lying
    or bent over)."""
    poses = np.asarray(poses, np.float64)
    head, ankles = poses[:, _J["Head"]], poses[:, [_J["RAnkle"], _J["LAnkle"]]].mean(1)
    legs = mask[:, _J["Head"]] & mask[:, _J["RAnkle"]] & mask[:, _J["LAnkle"]]
    trunk = mask[:, _J["Pelvis"]] & mask[:, _J["Thorax"]]
    up = np.where(legs[:, None], head - ankles, poses[:, _J["Thorax"]] - poses[:, _J["Pelvis"]])
    up = up[(legs | trunk) & np.isfinite(up).all(1)]
    norm = np.linalg.norm(up, axis=1)
    up = up[norm > 1e-6] / norm[norm > 1e-6, None]
    if not len(up):
        return None
    median = np.median(up, axis=0)
    median /= max(float(np.linalg.norm(median)), 1e-9)
    axis = int(np.argmax(np.abs(median)))
    if abs(median[axis]) < STANDING_COSINE:
        return None
    return ("+" if median[axis] > 0 else "-") + "XYZ"[axis]


def frame_warning(poses: np.ndarray, mask: np.ndarray, where: str, kind: str) -> str | None:
    """A warning for 3D poses of a file that keeps no up axis (kind: NPZ, CSV), read as Z-up mocap,
    whose body stands along another axis: a lift's poses in the camera's frame (y down) saved where the
    frame is not kept, or another tool's Y-up poses. None where it stands along +Z (or along no axis)."""
    axis = standing_axis(poses, mask)
    if axis in (None, "+Z"):
        return None
    cause = ("a lift's poses in the camera's frame (y down)? NPZ keeps that frame: lift to NPZ again, or straight "
             "to BVH/C3D" if axis == "-Y" else f"poses stored {axis} up, unless the performer lies down for most of the take")
    return (f"{where}: its body stands along {axis}, but {kind} poses are read as Z-up mocap ({cause}): a BVH, C3D or "
            "TRC written from it lies down, and the models see it lying")
