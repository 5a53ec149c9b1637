"""Real files from other labs and rigs (tests/data/vendors, see its PROVENANCE.md): each is read
right or refused with one clear line, and nothing in a file gfpose writes back is damaged.

The rules come from tests/data/vendors/PROVENANCE.md ("What a correct tool does with these
files"); the two cases no redistributable file shows (BVH position channels on every joint, gaps
stored as (0, 0, 0) with a fourth word of 65535) are built here from real takes, following the
BVH and C3D specifications.
"""
from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.core.errors import InputError
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.io import c3d_raw
from gfpose_cli.io.c3d import load, point_kinds
from gfpose_cli.io.sanity import body_report

from .test_writeback import run  # the exit code of one gfpose command run in-process
from gfpose_cli.core.skeleton import JOINTS

VENDORS = Path(__file__).parent / "data" / "vendors"

#: file -> what a correct tool does: ("body", None) converts to all 17 joints; ("partial", joints)
#: converts with those joints missing in every frame (and says so); ("refuse", regex) exits 2 with
#: one line matching regex. Refusals of body captures whose marker set no preset
#: knows are issue 23's to turn into conversions; here they must name the file's own labels.
CLUSTERS_MISSING = ("Neck", "Head", "LWrist", "RWrist")  # no head or hand clusters
DAVIS_MISSING = ("Neck", "Head", "LElbow", "LWrist", "RElbow", "RWrist")
UNLABELLED = r"its \d+ points are unlabelled "  # then: no body part can be told from their names ...
LEGS_ONLY = ("Spine", "Thorax", "Neck", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")
LEGS_AND_TRUNK = LEGS_ONLY[2:]  # the legs with C7 and the clavicle markers (RCLA, LCLA): Spine and Thorax too
EXPECTED: dict[str, tuple[str, str | None]] = {
    "ammr__2014001_C1_01.c3d": ("partial", ("Neck", "Head")),  # ISB/CAST landmarks, no head markers
    "ammr__2014001_ST.c3d": ("partial", ("Neck", "Head")),  # one frame
    "btk__1123x01EMG.c3d": ("refuse", r"holds no marker data \(analog channels only\)"),
    "btk__561xxa01_anonym.c3d": ("partial", DAVIS_MISSING),  # Davis/BTS with the protocol's joint points
    "btk__ADemo1_rewrite_c3d_pc_float.c3d": ("partial", LEGS_ONLY),  # Codamotion lower body, R.Hip/L.Hip points
    "btk__Analysis.c3d": ("refuse", r"holds only model outputs"),
    "btk__BKINtechnologies.c3d": ("refuse", r"its 2 points name only the left hand, right hand \(Right_Hand, Left_Hand\): there is no pelvis"),
    "btk__DEC_INT.c3d": ("partial", CLUSTERS_MISSING),  # technical clusters: a map learned from their motion
    "btk__Dance.c3d": ("refuse", UNLABELLED + r"\(Channel101"),
    "btk__Eb015pi.c3d": ("partial", LEGS_ONLY),  # lower-body clusters (RTH1-4 ...): a map learned from their motion
    "btk__Eb015sr.c3d": ("partial", LEGS_ONLY),  # lower-body clusters (RTH1-4 ...): a map learned from their motion
    "btk__Empty.c3d": ("refuse", r"the file is empty \(0 bytes\)"),
    "btk__FP1.c3d": ("refuse", UNLABELLED + r"\(PT00"),
    "btk__MotionMonitorC3D.c3d": ("refuse", UNLABELLED + r"\(M1"),
    "btk__MyCube.c3d": ("refuse", UNLABELLED + r"\(PBLeiden01_1"),
    "btk__PlugInC3D.c3d": ("partial", LEGS_AND_TRUNK),  # lower-body Plug-in Gait + C7/RCLA/LCLA, DEC integer
    "btk__Res16bits.c3d": ("body", None),  # Cortex, French names, medial markers told apart by description
    "btk__TESTDPI.c3d": ("partial", LEGS_ONLY),  # lower-body clusters (RTH1-4 ...): a map learned from their motion
    "btk__TYPE-2.c3d": ("partial", LEGS_ONLY),  # single-letter labels, Helen Hayes descriptions
    "btk__bad_parameter_section.c3d": ("refuse", r"not a readable C3D file \(.*\); if your capture software"),
    "btk__dynamic.c3d": ("partial", ("Spine", "Thorax", "LShoulder", "RShoulder") + DAVIS_MISSING),  # c7 and shoulders never seen
    "btk__mocap36.c3d": ("body", None),  # Motive Skeleton_* segment markers: joint centres from their motion
    "btk__parameterOverflow.c3d": ("refuse", r"no marker holds a valid sample"),
    "btk__pc_real.c3d": ("partial", CLUSTERS_MISSING),  # the same take, Intel float
    "btk__sample21.c3d": ("partial", ("LKnee", "LAnkle") + LEGS_ONLY),  # pelvis (both hips from it) and right leg
    "btk__sgi_int.c3d": ("partial", CLUSTERS_MISSING),  # the same take, MIPS integer
    "btk__shd01.c3d": ("partial", ("RKnee", "RAnkle", "LKnee", "LAnkle")),  # upper body and pelvis (the hips from it)
    "btk__standing.c3d": ("partial", ("Spine", "Thorax", "LShoulder", "RShoulder") + DAVIS_MISSING),  # as dynamic
    "btk__sub_labels.c3d": ("partial", LEGS_AND_TRUNK),  # the same, under a subject prefix
    "btk__type1.c3d": ("partial", LEGS_ONLY),  # BTS Helen Hayes legs, zeros for gaps
    "ezc3d__Optotrak.c3d": ("refuse", UNLABELLED + r"\(Marker_1"),
    "pycgm__59993_Frame_Static.c3d": ("body", None),
    "pycgm__Movement_trial.c3d": ("body", None),
    "pycgm__RoboStatic.c3d": ("body", None),
    "pycgm__Sample_Static.c3d": ("body", None),
    "bvhpy__test_mocapbank.bvh": ("body", None),
    "dme__blender_rendering_example.bvh": ("body", None),
    "dme__demo_results_demo_video_1_raw.bvh": ("body", None),
    "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh": ("body", None),  # no Spine1 or Neck: short-spine, Thorax estimated
}
BODY_C3D = sorted(n for n, (what, _) in EXPECTED.items() if what == "body" and n.endswith(".c3d"))
PARTIAL_C3D = sorted(n for n, (what, _) in EXPECTED.items() if what == "partial" and n.endswith(".c3d"))


def limb_joints(limb: str) -> set[int]:
    from gfpose_cli.io.sanity import LIMBS

    a, b = next((a, b) for name, a, b, *_ in LIMBS if name == limb)
    return {JOINTS.index(a), JOINTS.index(b)}


def test_every_vendor_file_has_an_expected_outcome() -> None:
    files = sorted(p.name for p in VENDORS.iterdir() if p.suffix.lower() in (".c3d", ".bvh"))
    assert files == sorted(EXPECTED)
    # the copies are the fixtures their PROVENANCE.md describes
    import hashlib

    sums = dict(reversed(line.split()) for line in (VENDORS / "SHA256SUMS").read_text().splitlines() if line.strip())
    for name in files:
        assert hashlib.sha256((VENDORS / name).read_bytes()).hexdigest() == sums[name], name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_file_converts_plausibly_or_is_refused_with_one_line(name: str, tmp_path: Path, capsys) -> None:
    what, pattern = EXPECTED[name]
    src = VENDORS / name
    before = src.read_bytes()
    code = run(["convert", str(src), "-o", str(tmp_path / "out.npz"), "-q"])
    err = capsys.readouterr().err
    if what == "refuse":
        assert code == 2, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) >= 1 and "Traceback" not in err
        text = " ".join(line.strip() for line in lines)
        assert re.search(pattern, text), text
        assert name in text
        assert not (tmp_path / "out.npz").exists()
    else:
        assert code == 0, err
        take = io.read(tmp_path / "out.npz")
        missing = [] if what == "body" else [JOINTS.index(j) for j in pattern]
        present = [j for j in range(17) if j not in missing]
        assert not take.mask[:, missing].any()
        assert take.mask[:, present].mean() > 0.6 and take.mask[:, present].any(0).all()
        if missing:  # the user is told which joints are missing and why
            assert "no markers for the" in err or "no joints for the" in err, err
        report = body_report(take.positions.astype(np.float64), take.mask)
        if what == "body":
            assert 1.2 < report["height"] < 2.1, report
        for limb, length in report["lengths"].items():
            assert (length is None) == (limb_joints(limb) & set(missing) != set()), limb
            assert length is None or 0.15 < length < 0.6, (limb, length)
        if take.n_frames > 1:  # consecutive frames are consecutive: no misread stride
            step = np.linalg.norm(np.diff(take.positions, axis=0), axis=-1)
            assert np.nanmedian(step) < 0.06  # metres per frame (30 fps takes move fast)
    # `gfpose maps FILE` reads the same way: the same refusal, or the table of all 17 joints
    code_maps = run(["maps", str(src)])
    err_maps = capsys.readouterr()
    assert code_maps == code
    if what == "refuse":
        assert re.search(pattern, " ".join(line.strip() for line in err_maps.err.splitlines())), err_maps.err
    else:
        assert "RWrist" in err_maps.out + err_maps.err
    assert src.read_bytes() == before  # inputs are only ever read


@pytest.mark.parametrize("name", BODY_C3D + PARTIAL_C3D)
@pytest.mark.parametrize("task", ["denoise", "complete"])
def test_write_back_touches_only_body_markers(name: str, task: str, tmp_path: Path, capsys) -> None:
    """After denoise/complete every point that is not a body marker is bit-identical, every invalid
    input sample is still invalid (denoise) or filled and counted (complete), analog data and the
    file's encoding are kept, and no valid sample is thrown (the sparse '*153' ghosts of
    Movement_trial were thrown 6.9 m)."""
    src = VENDORS / name
    out = tmp_path / f"{task}.c3d"
    assert run([task, str(src), "-o", str(out), "--steps", "5", "-q"]) == 0, capsys.readouterr().err
    a, b = load(src), load(out)
    ra, rb = a.raw, b.raw
    assert (rb.proc, rb.is_float, rb.scale, rb.n_frames, rb.n_points) == (ra.proc, ra.is_float, ra.scale, ra.n_frames, ra.n_points)
    assert a.labels == b.labels and a.rate == b.rate
    words_a, words_b = ra._point_words(), rb._point_words()
    kinds = point_kinds(a.labels, a.params)
    if name.startswith("pycgm__"):  # Plug-in Gait with its model outputs
        assert kinds.count("model output") >= 26 and kinds.count("marker") >= 30
    for i, kind in enumerate(kinds):
        if kind != "marker":
            assert np.array_equal(words_a[:, i], words_b[:, i]), (a.labels[i], kind)
    # analog samples: the rest of every frame's bytes
    stride = 4 * ra.n_points * ra.word_bytes
    frames_a = np.frombuffer(a.raw.data, np.uint8, ra.n_frames * ra.frame_bytes, ra.data_offset).reshape(ra.n_frames, -1)
    frames_b = np.frombuffer(b.raw.data, np.uint8, rb.n_frames * rb.frame_bytes, rb.data_offset).reshape(rb.n_frames, -1)
    assert np.array_equal(frames_a[:, stride:], frames_b[:, stride:])
    gfpose = b.params["GFPOSE"]
    newly = b.observed & ~a.observed
    if task == "denoise":
        assert not newly.any()
    filled = dict(zip((s.strip() for s in gfpose["FILLED_LABELS"]), gfpose["FILLED_COUNTS"]))
    assert int(newly.sum()) == int(sum(v for k, v in filled.items() if k))
    for i in np.flatnonzero(newly.any(0)):
        assert filled[a.labels[i]] == newly[:, i].sum()
    assert not (a.observed & ~b.observed).any()  # nothing observed became missing
    moved = [(s.strip(), v) for s, v in zip(gfpose["MOVED_LABELS"], gfpose["MOVED_COUNTS"])]  # a label may repeat
    both = a.observed & b.observed
    changed = both & (np.abs(b.xyz - a.xyz).max(-1) > 0)
    assert int(changed.sum()) == int(sum(v for k, v in moved if k))
    shift = np.linalg.norm(np.where(both[..., None], b.xyz - a.xyz, 0.0), axis=-1)
    assert shift.max() < 300.0  # mm: no valid sample moved more than 0.3 m


def test_complete_counts_match_what_it_writes_on_a_take_with_gaps(tmp_path: Path, capsys) -> None:
    """Movement_trial with a body marker knocked out for 0.25 s (its samples set to the spec's
    invalid word): complete fills exactly those samples and says so."""
    src = VENDORS / "pycgm__Movement_trial.c3d"
    raw = c3d_raw.parse(src.read_bytes())
    a = load(src)
    col = a.labels.index("LKNE")
    data = bytearray(raw.data)
    for f in range(100, 130):
        at = raw.data_offset + f * raw.frame_bytes + col * 4 * raw.word_bytes
        data[at + 3 * raw.word_bytes:at + 4 * raw.word_bytes] = struct.pack("<f", -1.0)
    gappy = tmp_path / "gappy.c3d"
    gappy.write_bytes(bytes(data))
    assert run(["complete", str(gappy), "-o", str(tmp_path / "filled.c3d"), "-q"]) == 0, capsys.readouterr().err
    b = load(tmp_path / "filled.c3d")
    assert b.observed[100:130, col].all()
    assert np.linalg.norm(b.xyz[100:130, col] - a.xyz[100:130, col], axis=-1).mean() < 60.0  # mm
    gfpose = b.params["GFPOSE"]
    assert dict(zip((s.strip() for s in gfpose["FILLED_LABELS"]), gfpose["FILLED_COUNTS"])) == {"LKNE": 30.0}


def test_gaps_stored_as_zeros_with_the_65535_word_are_missing_and_stay_missing(tmp_path: Path) -> None:
    """Old writers store a gap as (0, 0, 0) with a float fourth word of 65535 (the int16 -1,
    'invalid', as a number). Both ezc3d and the c3d package decode that word as a positive residual;
    read as data, the knee sat at the lab origin and denoise dragged its neighbours a metre."""
    src = VENDORS / "pycgm__RoboStatic.c3d"
    raw = c3d_raw.parse(src.read_bytes())
    a = load(src)
    col = a.labels.index("RKNE")
    data = bytearray(raw.data)
    for f in range(200, 260):
        at = raw.data_offset + f * raw.frame_bytes + col * 4 * raw.word_bytes
        data[at:at + 16] = struct.pack("<4f", 0.0, 0.0, 0.0, 65535.0)
    zeros = tmp_path / "zeros.c3d"
    zeros.write_bytes(bytes(data))
    import ezc3d

    assert (np.asarray(ezc3d.c3d(str(zeros))["data"]["meta_points"]["residuals"])[0, col, 200:260] >= 0).all()
    take = io.read(zeros)
    assert not take.mask[200:260, 2].any()  # RKnee is missing there
    assert take.mask[:200].all() and take.mask[260:].all() and take.mask[200:260, 1].all()  # the hip is the pelvis's
    assert run(["denoise", str(zeros), "-o", str(tmp_path / "clean.c3d"), "-q"]) == 0
    clean = c3d_raw.parse((tmp_path / "clean.c3d").read_bytes())
    assert np.array_equal(clean._point_words()[200:260, col], c3d_raw.parse(bytes(data))._point_words()[200:260, col])
    b = load(tmp_path / "clean.c3d")
    near = b.xyz[190:270] - a.xyz[190:270]
    seen = b.observed[190:270]
    assert np.abs(near[seen]).max() < 20.0  # mm: neighbours of the gap are not dragged toward the origin


def test_an_integer_c3d_stays_integer_and_untouched_samples_are_bit_identical(tmp_path: Path) -> None:
    """An Intel integer copy of a real Plug-in Gait take (written by the c3d package at a 0.1 mm
    scale, with two model-output points listed in POINT:ANGLES): denoise writes integers at the same
    scale, and every sample it did not move keeps its bytes."""
    import c3d as pyc3d

    src = load(VENDORS / "pycgm__RoboStatic.c3d")
    kinds = point_kinds(src.labels, src.params)
    markers = [i for i, k in enumerate(kinds) if k == "marker"]
    angles = [src.labels.index("LKneeAngles"), src.labels.index("RKneeAngles")]
    cols = markers + angles
    writer = pyc3d.Writer(point_rate=src.rate, analog_rate=src.rate, point_scale=0.1)
    frames = []
    for f in range(200):
        pts = np.zeros((len(cols), 5), np.float32)
        pts[:, :3] = src.xyz[f, cols]
        pts[:, 3] = np.where(src.observed[f, cols], 0.0, -1.0)
        frames.append((pts, np.zeros((0, 0), np.float32)))
    writer.add_frames(frames)
    writer.set_point_labels([src.labels[i] for i in cols])
    names = [src.labels[i] for i in angles]
    width = max(len(n) for n in names)
    writer.point_group.add_str("ANGLES", "model outputs", "".join(n.ljust(width) for n in names), width, len(names))
    integer = tmp_path / "integer.c3d"
    with open(integer, "wb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer.write(handle)
    a = load(integer)
    assert not a.raw.is_float and a.raw.scale == pytest.approx(0.1)
    assert run(["denoise", str(integer), "-o", str(tmp_path / "clean.c3d"), "-q"]) == 0
    b = load(tmp_path / "clean.c3d")
    assert not b.raw.is_float and b.raw.scale == a.raw.scale and b.raw.proc == a.raw.proc
    wa, wb = a.raw._point_words(), b.raw._point_words()
    moved = (wa != wb).any(-1)
    assert moved[:, :len(markers)].any()
    assert not moved[:, len(markers):].any()  # the angles
    assert np.array_equal(wa[~moved], wb[~moved])
    assert len((tmp_path / "clean.c3d").read_bytes()) <= len(integer.read_bytes()) + 1024  # not doubled (float)


SAME_TRIAL = [  # one capture stored in several encodings by c3d.org
    ("btk__Eb015pi.c3d", "btk__Eb015sr.c3d"),  # Intel integer vs MIPS float
    ("btk__Eb015pi.c3d", "btk__TESTDPI.c3d"),
    ("btk__pc_real.c3d", "btk__DEC_INT.c3d"),  # Intel float vs DEC integer
    ("btk__pc_real.c3d", "btk__sgi_int.c3d"),  # vs MIPS integer (ezc3d cannot read it)
]


@pytest.mark.parametrize("one,other", SAME_TRIAL)
def test_every_processor_type_and_storage_reads_the_same_points(one: str, other: str) -> None:
    a, b = load(VENDORS / one), load(VENDORS / other)
    assert a.labels == b.labels and np.array_equal(a.observed, b.observed)
    scale = max(abs(a.raw.scale), abs(b.raw.scale))
    seen = a.observed
    assert np.abs(a.xyz[seen] - b.xyz[seen]).max() <= scale  # one integer step


@pytest.mark.parametrize("name", sorted({n for pair in SAME_TRIAL for n in pair}))
def test_samples_decoded_one_by_one_are_those_of_the_whole_take(name: str) -> None:
    # the write-back compares its new samples with the stored ones without decoding a long take whole
    raw = load(VENDORS / name).raw
    xyz, _ = raw.points()
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, raw.n_frames, 500), rng.integers(0, raw.n_points, 500)
    assert np.array_equal(raw.points_at(rows, cols), xyz[rows, cols], equal_nan=True)


@pytest.mark.parametrize("name", ["btk__Eb015sr.c3d", "btk__sgi_int.c3d", "btk__Dance.c3d", "btk__BKINtechnologies.c3d"])
def test_files_ezc3d_refuses_are_read_and_agree_with_the_c3d_package(name: str) -> None:
    import c3d as pyc3d

    ours = load(VENDORS / name)
    assert ours.reader == "c3d"
    with open(VENDORS / name, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.stack([p[:, :4] for _, p, _ in pyc3d.Reader(handle).read_frames(check_nan=False)])
    assert theirs.shape[:2] == ours.xyz.shape[:2]
    valid = theirs[..., 3] >= 0
    assert np.array_equal(valid & ~(theirs[..., :3] == 0).all(-1), ours.observed)
    assert np.allclose(theirs[..., :3][valid], ours.xyz[valid], rtol=1e-6, atol=max(1e-3, abs(ours.raw.scale)))


def test_a_motive_file_with_a_broken_parameter_offset_is_read() -> None:
    """OptiTrack Motive's LABELS entry leaves out its description byte, so its 'next entry'
    offset disagrees with its size; neither library reads the file."""
    f = load(VENDORS / "btk__mocap36.c3d")
    assert f.reader == "gfpose" and len(f.labels) == 36 and f.labels[0] == "Skeleton_Hip2"
    assert f.xyz.shape == (1380, 36, 3)
    step = np.linalg.norm(np.diff(f.xyz, axis=0), axis=-1)[f.observed[1:] & f.observed[:-1]]
    assert np.median(step) < 20.0  # mm per frame at 100 Hz: a real trajectory


@pytest.mark.parametrize("name", ["btk__dynamic.c3d", "btk__standing.c3d", "btk__type1.c3d", "btk__561xxa01_anonym.c3d"])
def test_bts_files_whose_header_and_parameters_disagree_read_with_the_stride_that_fills_the_file(name: str) -> None:
    """ANALOG:USED without ANALOG:RATE: ezc3d reads these with no analog words per frame and every
    marker jumps about a metre a frame; the header's count fills the file exactly."""
    import ezc3d

    f = load(VENDORS / name)
    assert f.raw.data_offset + f.raw.n_frames * f.raw.frame_bytes <= len(f.raw.data) < \
        f.raw.data_offset + f.raw.n_frames * f.raw.frame_bytes + 512
    step = np.linalg.norm(np.diff(f.xyz, axis=0), axis=-1)[f.observed[1:] & f.observed[:-1]]
    assert np.median(step) < 20.0
    theirs = np.asarray(ezc3d.c3d(str(VENDORS / name))["data"]["points"])[:3].transpose(2, 1, 0)
    ok = np.isfinite(theirs).all(-1)
    assert np.nanmedian(np.linalg.norm(np.diff(theirs, axis=0), axis=-1)[ok[1:] & ok[:-1]]) > 200.0
    # gaps here are (0, 0, 0): read as missing
    assert f.observed.sum() < f.observed.size and not ((f.xyz == 0).all(-1) & f.observed).any()


def test_model_outputs_are_never_read_as_markers() -> None:
    f = load(VENDORS / "pycgm__59993_Frame_Static.c3d")
    kinds = dict(zip(f.labels, point_kinds(f.labels, f.params)))
    assert kinds["LKneeAngles"] == "model output" and kinds["CentreOfMassFloor"] == "virtual"
    assert kinds["PELO"] == "virtual" and kinds["*113"] == "unlabelled" and kinds["LKNE"] == "marker"
    # the clavicle's bone points come with its origin (LCLO, LCLA, LCLL, LCLP): computed, not markers
    assert {kinds[n] for n in ("LCLO", "LCLA", "LCLL", "RCLP")} == {"virtual"}


def test_clavicle_markers_without_bone_points_are_markers_and_place_the_thorax(tmp_path: Path, capsys) -> None:
    """c3d.org's PlugInC3D.c3d: lower-body Plug-in Gait with the older trunk markers C7, RCLA and LCLA
    (POINT:DESCRIPTIONS 'Right Clavicle (optional - for Springfield Trunk model)'). They are markers
    (the bone point LCLA comes with LCLO, LCLL, LCLP), so Thorax is between C7 and their midpoint, and
    Spine is estimated halfway between the pelvic markers' centre and the thorax, said on stderr."""
    f = load(VENDORS / "btk__PlugInC3D.c3d")
    kinds = dict(zip(f.labels, point_kinds(f.labels, f.params)))
    assert kinds["RCLA"] == kinds["LCLA"] == "marker"
    assert run(["convert", str(VENDORS / "btk__PlugInC3D.c3d"), "-o", str(tmp_path / "out.npz")]) == 0
    assert "Spine estimated by map 'plug-in-gait'" in capsys.readouterr().err
    take = io.read(tmp_path / "out.npz")
    col = {n: f.labels.index(n) for n in ("C7", "RCLA", "LCLA", "LASI", "RASI", "SACR", "RKNE")}
    seen = f.observed[:, list(col.values())].all(1)
    assert seen.sum() > 100
    xyz = f.xyz[seen] / 1000.0  # mm in the file
    thorax = 0.5 * xyz[:, col["C7"]] + 0.25 * (xyz[:, col["RCLA"]] + xyz[:, col["LCLA"]])
    spine = 0.5 * thorax + 0.5 * (xyz[:, col["LASI"]] + xyz[:, col["RASI"]] + 2 * xyz[:, col["SACR"]]) / 4
    got = take.positions[seen].astype(np.float64)
    assert take.mask[seen][:, [JOINTS.index("Thorax"), JOINTS.index("Spine")]].all()
    # the take is turned Z up: distances between joints (RKnee is the RKNE marker) pin both joints
    for a, b, want in (("Thorax", "Spine", np.linalg.norm(thorax - spine, axis=-1)),
                       ("Thorax", "RKnee", np.linalg.norm(thorax - xyz[:, col["RKNE"]], axis=-1)),
                       ("Spine", "RKnee", np.linalg.norm(spine - xyz[:, col["RKNE"]], axis=-1))):
        dist = np.linalg.norm(got[:, JOINTS.index(a)] - got[:, JOINTS.index(b)], axis=-1)
        assert np.allclose(dist, want, atol=1e-5), (a, b)


# ---------------------------------------------------------------- BVH


def _with_position_channels(text: str, factor: float = 1.0) -> str:
    """A BVH with Xposition Yposition Zposition on every joint (Perception Neuron 'with displacement',
    LAFAN1), holding each joint's OFFSET (times factor) in every frame."""
    skel = bvh_io.parse(text)
    header = re.sub(r"CHANNELS 3 (\w+) (\w+) (\w+)", r"CHANNELS 6 Xposition Yposition Zposition \1 \2 \3", skel.header)
    width = sum(int(n) for n in re.findall(r"CHANNELS (\d+)", header))
    new = bvh_io.parse(header + f"MOTION\nFrames: 1\nFrame Time: {skel.frame_time}\n" + " 0" * width)
    motion = np.zeros((len(skel.motion), sum(len(c) for c in new.channels)))
    for j, chans in enumerate(new.channels):
        for k, ch in enumerate(chans):
            col = new.channel_start[j] + k
            if len(chans) == 6 and k < 3 and len(skel.channels[j]) == 3:
                motion[:, col] = skel.offsets[j, k] * factor
            else:
                motion[:, col] = skel.motion[:, skel.channel_start[j] + skel.channels[j].index(ch)]
    new.motion = motion
    return bvh_io.dumps(new)


def test_bvh_position_channels_replace_the_offset(tmp_path: Path, capsys) -> None:
    src = VENDORS / "bvhpy__test_mocapbank.bvh"
    plain = io.read(src)
    (tmp_path / "pn.bvh").write_text(_with_position_channels(src.read_text()))
    with_pos = io.read(tmp_path / "pn.bvh")
    assert with_pos.provenance.units == plain.provenance.units
    assert np.abs(with_pos.positions - plain.positions).max() < 1e-5  # bones not doubled
    before = (tmp_path / "pn.bvh").read_text()
    assert run(["denoise", str(tmp_path / "pn.bvh"), "-o", str(tmp_path / "clean.bvh"), "-q"]) == 0
    out = (tmp_path / "clean.bvh").read_text()
    assert out.split("MOTION")[0] == before.split("MOTION")[0]  # header verbatim
    back = io.read(tmp_path / "clean.bvh")
    bones = np.linalg.norm(back.positions[:, 2] - back.positions[:, 1], axis=-1)
    assert np.abs(np.median(bones) - np.median(np.linalg.norm(plain.positions[:, 2] - plain.positions[:, 1], axis=-1))) < 0.01


def test_doubled_bones_are_refused_with_their_likely_cause(tmp_path: Path, capsys) -> None:
    """Position channels holding twice the OFFSET stand for a reader that adds them: the body check
    names the length and the cause; --force-read reads it anyway, with a warning."""
    src = VENDORS / "bvhpy__test_mocapbank.bvh"
    (tmp_path / "double.bvh").write_text(_with_position_channels(src.read_text(), factor=2.0))
    with pytest.raises(InputError, match=r"femur is 0\.\d+ m long.*bones counted twice.*pass force_read"):
        io.read(tmp_path / "double.bvh", units="cm")
    assert run(["convert", str(tmp_path / "double.bvh"), "-o", str(tmp_path / "d.npz"), "--units", "cm", "-q"]) == 2
    assert run(["convert", str(tmp_path / "double.bvh"), "-o", str(tmp_path / "d.npz"), "--units", "cm",
                "--force-read", "-q"]) == 0
    assert "read anyway (--force-read)" in capsys.readouterr().err


def test_zero_filled_gaps_in_an_npz_are_refused(tmp_path: Path) -> None:
    take = io.read(VENDORS / "bvhpy__test_mocapbank.bvh")
    poses = take.positions.copy()
    poses[40:50, 13] = 0.0  # a left wrist gap written as zeros
    np.savez(tmp_path / "zeros.npz", poses=poses, fps=take.fps)
    with pytest.raises(InputError, match=r"frame 40, joint LWrist sits exactly at the origin.*NaN"):
        io.read(tmp_path / "zeros.npz")


def test_a_bind_pose_frame_0_is_left_as_it_is(tmp_path: Path, capsys) -> None:
    src = VENDORS / "dme__blender_rendering_example.bvh"
    take = io.read(src)
    assert take.provenance.bind_frames == (0,)
    assert run(["denoise", str(src), "-o", str(tmp_path / "clean.bvh")]) == 0
    assert "bind-pose frame 0 kept as it was" in capsys.readouterr().err
    a, b = bvh_io.read_skeleton(src), bvh_io.read_skeleton(tmp_path / "clean.bvh")
    assert np.array_equal(a.motion[0], b.motion[0]) and a.header == b.header and len(a.motion) == len(b.motion)
    assert not io.read(VENDORS / "bvhpy__test_mocapbank.bvh").provenance.bind_frames


def test_a_take_too_short_to_smooth_is_left_alone(tmp_path: Path, capsys) -> None:
    src = VENDORS / "dme__blender_rendering_example.bvh"
    skel = bvh_io.read_skeleton(src)
    skel.motion = skel.motion[:2]
    (tmp_path / "two.bvh").write_text(bvh_io.dumps(skel))
    assert run(["denoise", str(tmp_path / "two.bvh"), "-o", str(tmp_path / "clean.bvh")]) == 0
    assert "too short to smooth (2 frames): left as it was" in capsys.readouterr().err
    assert np.array_equal(bvh_io.read_skeleton(tmp_path / "clean.bvh").motion, skel.motion)


# ---- gfpose maps --init: a starter map to edit for a file no preset maps ----

def test_maps_init_writes_a_commented_starter_map_for_an_unknown_set(tmp_path) -> None:
    """OptiTrack Motive's Skeleton_* markers (no preset knows them): numbered markers of one body part
    are averaged, the side is read after the set's prefix (Skeleton_LThigh1 is left), every guess is
    commented as one, and what nothing names is left for the user."""
    src = VENDORS / "btk__mocap36.c3d"
    out = tmp_path / "motive.toml"
    assert run(["maps", str(src), "--init", "-o", str(out)]) == 0
    text = out.read_text()
    hips = ", ".join(f'"Skeleton_Hip{i}" = 0.25' for i in range(1, 5))
    assert f"Pelvis = {{{hips}}}  # guessed" in text
    assert 'LKnee = {"Skeleton_LShin1" = 0.5, "Skeleton_LShin2" = 0.5}  # guessed' in text
    assert 'RKnee = {"Skeleton_RShin1" = 0.5, "Skeleton_RShin2" = 0.5}  # guessed' in text
    unset = [line for line in text.splitlines() if line.startswith("# ") and '= "?"' in line]
    assert {line.split()[1] for line in unset} >= {"LElbow", "RElbow"}
    with pytest.raises(InputError, match="not defined"):  # it loads only once the user has named them
        io.maps.load_map(out)
    assert run(["maps", str(src), "--init", "-o", str(out)]) == 2  # no overwrite without --force


def test_maps_init_of_a_known_set_reproduces_the_preset(tmp_path) -> None:
    src = VENDORS / "pycgm__RoboStatic.c3d"
    out = tmp_path / "robo.toml"
    assert run(["maps", str(src), "--init", "-o", str(out)]) == 0
    joints = out.read_text().split("[joints]")[1]
    assert "guessed" not in joints and '"?"' not in joints
    mine, auto = io.read(src, skeleton_map=str(out)), io.read(src)
    np.testing.assert_allclose(mine.positions, auto.positions, atol=1e-6)


# ---- several performers in one C3D: cleaned (filled) in one pass, one file written ----

def two_performers(tmp_path: Path) -> tuple[Path, list[str]]:
    """A real walk (pycgm Movement_trial, Plug-in Gait) as two performers: Ann walks frames 0-299,
    Ben frames 23-322 two metres to the side, with a gap knocked into one knee marker each; Box is
    a prop under a subject prefix. Written by ezc3d as an Intel float C3D, Vicon-style labels."""
    from gfpose_cli.io.c3d import _append_points, _empty_c3d

    src = load(VENDORS / "pycgm__Movement_trial.c3d")
    kinds = point_kinds(src.labels, src.params)
    cols = [i for i, k in enumerate(kinds) if k == "marker" and not src.labels[i].startswith("*")]
    labels = [src.labels[i] for i in cols]
    ann = np.where(src.observed[:300, cols, None], src.xyz[:300, cols], np.nan)
    ben = np.where(src.observed[23:323, cols, None], src.xyz[23:323, cols], np.nan) + np.array([0.0, 2000.0, 0.0])
    ann[100:120, labels.index("RKNE")] = np.nan
    ben[150:170, labels.index("LKNE")] = np.nan
    box = np.tile(np.array([[500.0, -1500.0, 0.0], [900.0, -1500.0, 0.0], [900.0, -1100.0, 0.0], [500.0, -1100.0, 400.0]]),
                  (300, 1, 1))
    c = _empty_c3d(src.rate, 300)
    c["parameters"]["POINT"]["Y_SCREEN"]["value"] = ["+Z"]
    all_labels = [f"Ann:{x}" for x in labels] + [f"Ben:{x}" for x in labels] + [f"Box:corner{i}" for i in range(1, 5)]
    xyz = np.concatenate([ann, ben, box], axis=1)
    _append_points(c, all_labels, np.nan_to_num(xyz), np.isfinite(xyz).all(-1))
    path = tmp_path / "two.c3d"
    c.write(str(path))
    return path, all_labels


@pytest.mark.parametrize("task", ["denoise", "complete"])
def test_every_performer_of_a_c3d_is_cleaned_in_one_pass(task: str, tmp_path: Path, capsys) -> None:
    src, labels = two_performers(tmp_path)
    out = tmp_path / f"{task}.c3d"
    assert run([task, str(src), "-o", str(out), "--steps", "5"]) == 0
    err = capsys.readouterr().err
    assert "performer Box left as it was" in err and "Ann: map 'plug-in-gait'" in err.replace("two.c3d ", "")
    a, b = load(src), load(out)
    assert b.labels == a.labels and b.xyz.shape == a.xyz.shape
    assert [s.strip() for s in b.params["GFPOSE"]["SUBJECTS"]] == ["Ann", "Ben"]
    box = [i for i, x in enumerate(labels) if x.startswith("Box:")]
    words_a, words_b = a.raw._point_words(), b.raw._point_words()
    assert np.array_equal(words_a[:, box], words_b[:, box])  # the prop is not touched
    both = a.observed & b.observed
    changed = both & (np.abs(b.xyz - a.xyz).max(-1) > 0)
    newly = b.observed & ~a.observed
    for who in ("Ann", "Ben"):
        cols = [i for i, x in enumerate(labels) if x.startswith(who + ":")]
        if task == "denoise":  # both performers cleaned, nothing invented
            assert changed[:, cols].sum() > 0.5 * a.observed[:, cols].sum() and not newly.any()
        else:  # each one's knocked-out knee is filled, from its own body
            knee = labels.index(f"{who}:{'RKNE' if who == 'Ann' else 'LKNE'}")
            gap = slice(100, 120) if who == "Ann" else slice(150, 170)
            assert newly[gap, knee].all()
            hip = labels.index(f"{who}:{'RASI' if who == 'Ann' else 'LASI'}")
            assert np.all(np.linalg.norm(b.xyz[gap, knee] - b.xyz[gap, hip], axis=-1) < 700)  # mm: on that body
    if task == "denoise":  # a performer cleaned alone comes out the same as in the joint pass
        alone = tmp_path / "ben.c3d"
        assert run([task, str(src), "-o", str(alone), "--subject", "Ben", "-q"]) == 0
        ben = [i for i, x in enumerate(labels) if x.startswith("Ben:")]
        np.testing.assert_array_equal(load(alone).raw._point_words()[:, ben], words_b[:, ben])
        ann = [i for i, x in enumerate(labels) if x.startswith("Ann:")]
        np.testing.assert_array_equal(load(alone).raw._point_words()[:, ann], words_a[:, ann])
    # other outputs hold one performer: refused with the way out
    assert run([task, str(src), "-o", str(tmp_path / "x.npz")]) == 2
    assert "pick one with --subject" in capsys.readouterr().err


def test_the_c3d_package_fallback_reads_float_array_parameters() -> None:
    """Parameters read through the `c3d` package (MIPS files, which ezc3d refuses) keep their float
    arrays: a lookup table of every accessor once turned each float array into an empty list."""
    from gfpose_cli.io.c3d import _pyc3d_params

    params = _pyc3d_params(VENDORS / "btk__Eb015sr.c3d")
    scales = params["ANALOG"]["SCALE"]
    used = int(params["ANALOG"]["USED"][0])
    assert used == 16 and len(scales) >= used and all(s != 0 and np.isfinite(s) for s in scales[:used])


def test_a_rig_with_one_spine_joint_reads_all_17_joints_and_says_which_is_estimated() -> None:
    """Vicon Blade's emotional-walk rig (Hips, Spine, Head; no Spine1, no Neck): the thorax is placed
    on the Spine-Head line where the clavicles start, between the shoulders, and the reader says so."""
    take = io.read(VENDORS / "pymo__AV_8Walk_Meredith_HVHA_Rep1.bvh")
    assert take.provenance.map == "short-spine" and take.mask.all()
    assert any("Thorax estimated by map 'short-spine'" in w for w in take.provenance.warnings)
    p = take.positions.astype(np.float64)
    j = {name: JOINTS.index(name) for name in ("Spine", "Thorax", "Neck", "LShoulder", "RShoulder")}
    mid = 0.5 * (p[:, j["LShoulder"]] + p[:, j["RShoulder"]])
    assert np.median(np.abs(p[:, j["Thorax"], 2] - mid[:, 2])) < 0.05  # at shoulder height
    assert (p[:, j["Spine"], 2] < p[:, j["Thorax"], 2]).all() and (p[:, j["Thorax"], 2] < p[:, j["Neck"], 2]).all()


def _bvh_text(tree: tuple, frames: int, seed: int = 0) -> str:
    """A BVH of the hierarchy tree = (name, offset_cm, children) with small random rotations per frame."""
    rng = np.random.default_rng(seed)
    lines, channels = ["HIERARCHY"], []

    def emit(node: tuple, depth: int, root: bool) -> None:
        name, off, kids = node
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {off[0]:.2f} {off[1]:.2f} {off[2]:.2f}")
        lines.append(f"{pad}  CHANNELS {6 if root else 3} {'Xposition Yposition Zposition ' if root else ''}Zrotation Xrotation Yrotation")
        channels.append(root)
        if kids:
            for kid in kids:
                emit(kid, depth + 1, False)
        else:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0.00 {8.0 if off[1] >= 0 else -8.0:.2f} 0.00",
                          pad + "  }"])
        lines.append(pad + "}")

    emit(tree, 0, True)
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.033333"]
    for f in range(frames):
        row = []
        for root in channels:
            if root:
                row += [f"{2.0 * f:.3f}", "95.000", "0.000"]
            row += [f"{v:.3f}" for v in rng.normal(0, 8, 3)]
        lines.append(" ".join(row))
    return "\n".join(lines) + "\n"


def _arm(side: str, sign: float, names: tuple[str, ...]) -> tuple:
    collar, upper, lower, hand = names
    return (collar, (sign * 4, 12, 0), [(upper, (sign * 14, 0, 0), [(lower, (sign * 28, 0, 0), [(hand, (sign * 25, 0, 0), [])])])])


def _leg(sign: float, names: tuple[str, ...]) -> tuple:
    upper, lower, foot, *toes = names
    end = [(toes[0], (0, -6, 10), [])] if toes else []
    return (upper, (sign * 9, -6, 0), [(lower, (0, -42, 0), [(foot, (0, -40, 0), end)])])


#: published rigs the vendor fixtures do not hold: Bandai Namco's Research Motion dataset and Second
#: Life's avatar BVH (cmu-bvh names without eyes)
RIGS = {
    "bandai-namco": ("joint_Root", (0, 0, 0), [("Hips", (0, 0, 0), [
        ("Spine", (0, 10, 0), [("Chest", (0, 15, 0), [
            ("Neck", (0, 22, 0), [("Head", (0, 10, 0), [])]),
            _arm("L", 1, ("Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L")),
            _arm("R", -1, ("Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R"))])]),
        _leg(1, ("UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L")), _leg(-1, ("UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"))])]),
    "second-life": ("hip", (0, 0, 0), [
        ("abdomen", (0, 10, 0), [("chest", (0, 15, 0), [
            ("neck", (0, 22, 0), [("head", (0, 10, 0), [])]),
            _arm("L", 1, ("lCollar", "lShldr", "lForeArm", "lHand")),
            _arm("R", -1, ("rCollar", "rShldr", "rForeArm", "rHand"))])]),
        _leg(1, ("lThigh", "lShin", "lFoot")), _leg(-1, ("rThigh", "rShin", "rFoot"))]),
}


@pytest.mark.parametrize("preset", sorted(RIGS))
def test_published_rigs_without_a_fixture_convert_with_their_preset(preset: str, tmp_path: Path, capsys) -> None:
    """A BVH built from a rig's published joint names converts to all 17 joints with that rig's preset,
    a body of plausible height and limb lengths."""
    src = tmp_path / f"{preset}.bvh"
    src.write_text(_bvh_text(RIGS[preset], frames=40))
    assert run(["convert", str(src), "-o", str(tmp_path / "out.npz")]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"map '{preset}'" in err, err
    take = io.read(tmp_path / "out.npz")
    assert take.mask.all()
    report = body_report(take.positions.astype(np.float64), take.mask)
    assert 1.4 < report["height"] < 2.0, report
    assert all(0.2 < v < 0.5 for v in report["lengths"].values()), report["lengths"]


def test_training_reads_every_performer_of_a_c3d_as_the_commands_do(tmp_path: Path) -> None:
    """gfpose train on a studio's two-performer C3D: Ann and Ben become takes of their own, the prop
    is listed as skipped with why (or refuses the load when nothing may be skipped)."""
    from gfpose_cli.core.errors import InputError
    from gfpose_cli.training.data import load_pose_files

    src, _ = two_performers(tmp_path)
    skipped: list[tuple[str, str]] = []
    poses = load_pose_files([src], skipped=skipped)
    assert poses.takes == ["two:Ann", "two:Ben"] and poses.subjects == ["user:two:Ann", "user:two:Ben"]
    assert len(poses.poses) > 100 and np.isfinite(poses.poses).all()
    assert len(skipped) == 1 and "performer Box left as it was" in skipped[0][1]
    with pytest.raises(InputError, match="performer Box left as it was"):
        load_pose_files([src])
