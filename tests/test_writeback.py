"""Writing C3D and BVH: lossless round trips, independent readers, and write-back of edited joints."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gfpose_cli import io
from gfpose_cli.cli import main
from gfpose_cli.io import bvh as bvh_io
from gfpose_cli.io import c3d_raw
from gfpose_cli.core.skeleton import JOINTS

from .conftest import FIXTURES, needs_fixtures

pytestmark = needs_fixtures
ezc3d = pytest.importorskip("ezc3d")

#: parameters a C3D writer must rewrite (data layout, storage scale) or adds (its own groups)
WRITER_MANAGED = {("POINT", "DATA_START"), ("POINT", "SCALE"), ("POINT", "INITIAL_COMMAND")}
WRITER_GROUPS = {"EZC3D", "ROTATION", "GFPOSE"}


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def params(c) -> dict:
    return {(g, k): v["value"] for g, grp in c["parameters"].items() if g not in WRITER_GROUPS
            for k, v in grp.items() if k != "__METADATA__" and (g, k) not in WRITER_MANAGED}


def own_map(path: Path, labels: list[str]) -> Path:
    """A user map naming 17 distinct, unrepeated labels: enough to carry any file through read/write."""
    unique = [label for label, n in Counter(labels).items() if n == 1]
    path.write_text("[joints]\n" + "".join(f'{j} = "{unique[i % len(unique)]}"\n' for i, j in enumerate(JOINTS)))
    return path


C3D_CASES = {  # fixture: (map, subject)
    "cmu_85_02": (None, None),
    "ktk_tennis_serve_nan": (None, None),
    "btk_gait": (None, None),
    "ezc3d_vicon": ("own", "Daphnee"),
    "ktk_duplicate_labels": ("own", None),
}


@pytest.mark.parametrize("name", sorted(C3D_CASES))
def test_c3d_round_trip_keeps_every_parameter_analog_and_point(name: str, tmp_path: Path) -> None:
    src = FIXTURES / f"{name}.c3d"
    before = src.read_bytes()
    a = ezc3d.c3d(str(src))
    smap, subject = C3D_CASES[name]
    own = smap == "own"  # labels picked to carry the file through, not a body: skip the body check
    if own:
        labels = [str(x).split(":")[-1] for x in a["parameters"]["POINT"]["LABELS"]["value"]
                  if subject is None or str(x).startswith(subject + ":")]
        smap = str(own_map(tmp_path / "mine.toml", labels))
    take = io.read(src, skeleton_map=smap, subject=subject, force_read=own)
    summary = io.write(take, tmp_path / "out.c3d")
    assert summary["moved"] == 0 and summary["filled"] == 0
    b = ezc3d.c3d(str(tmp_path / "out.c3d"))
    pa, pb = params(a), params(b)
    assert pa.keys() == pb.keys()
    for key in pa:
        assert np.array_equal(np.asarray(pa[key]), np.asarray(pb[key])), key
    assert b["parameters"]["POINT"]["LABELS"]["value"] == a["parameters"]["POINT"]["LABELS"]["value"]
    assert b["header"]["points"]["first_frame"] == a["header"]["points"]["first_frame"]
    assert np.array_equal(a["data"]["analogs"], b["data"]["analogs"])
    assert np.array_equal(a["data"]["meta_points"]["residuals"], b["data"]["meta_points"]["residuals"])
    pa_, pb_ = a["data"]["points"], b["data"]["points"]
    assert pa_.shape == pb_.shape
    assert np.array_equal(np.isnan(pa_), np.isnan(pb_))
    # every sample comes back exactly, float and integer (btk_gait, DEC) storage alike: the file's
    # own bytes are kept, only the GFPOSE group is added
    assert np.array_equal(pa_, pb_, equal_nan=True)
    assert b["parameters"]["POINT"]["SCALE"]["value"][0] == a["parameters"]["POINT"]["SCALE"]["value"][0]
    raw_a, raw_b = c3d_raw.parse(before), c3d_raw.parse((tmp_path / "out.c3d").read_bytes())
    assert (raw_a.proc, raw_a.scale) == (raw_b.proc, raw_b.scale)
    data_a = before[raw_a.data_offset:raw_a.data_offset + raw_a.n_frames * raw_a.frame_bytes]
    data_b = (tmp_path / "out.c3d").read_bytes()[raw_b.data_offset:raw_b.data_offset + raw_b.n_frames * raw_b.frame_bytes]
    assert data_a == data_b
    assert io.read(tmp_path / "out.c3d", skeleton_map=smap, subject=subject, force_read=own).provenance.map == take.provenance.map
    assert src.read_bytes() == before
    # an independent reader opens it (py-c3d checks the header against POINT:SCALE) and agrees
    import warnings

    import c3d as pyc3d

    with open(tmp_path / "out.c3d", "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = np.stack([points[:, :3] for _, points, _ in pyc3d.Reader(handle).read_frames()])
    ours = pb_[:3].transpose(2, 1, 0)
    seen = np.isfinite(ours).all(-1)
    # py-c3d scales integers in float32: agreement to its rounding
    assert frames.shape == ours.shape and np.allclose(frames[seen], ours[seen], rtol=1e-6, atol=1e-4)


def test_added_joints_read_the_same_in_the_independent_c3d_reader(tmp_path: Path) -> None:
    import c3d as pyc3d

    src = FIXTURES / "ktk_tennis_serve_nan.c3d"
    assert run(["convert", str(src), "-o", str(tmp_path / "j.c3d"), "--add-joints", "-q"]) == 0
    ours = ezc3d.c3d(str(tmp_path / "j.c3d"))
    labels = [str(x).strip() for x in ours["parameters"]["POINT"]["LABELS"]["value"]]
    assert labels[-17:] == [f"Derrick:gfpose_{j}" for j in JOINTS]
    with open(tmp_path / "j.c3d", "rb") as handle:
        reader = pyc3d.Reader(handle)
        assert [label.strip() for label in reader.point_labels] == labels
        frames = np.stack([points[:, :3] for _, points, _ in reader.read_frames()])  # (F, N, 3)
    theirs = ours["data"]["points"][:3].transpose(2, 1, 0)
    seen = np.isfinite(theirs).all(-1)
    assert frames.shape == theirs.shape
    assert np.abs(frames[seen] - theirs[seen]).max() < 1e-5
    # the joints read back (gfpose17 map) are the joints that were written
    back = io.read(tmp_path / "j.c3d")
    assert back.provenance.map == "gfpose17"
    first = io.read(src)
    assert np.array_equal(back.mask, first.mask)
    assert np.abs(back.positions[first.mask] - first.positions[first.mask]).max() < 1e-5


def _gappy_copy(path: Path, gaps: dict[str, tuple[int, int]]) -> tuple[np.ndarray, list[str]]:
    c = ezc3d.c3d(str(FIXTURES / "cmu_85_02.c3d"))
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    points, res = c["data"]["points"].copy(), c["data"]["meta_points"]["residuals"].copy()
    truth = points.copy()
    for label, (a, b) in gaps.items():
        i = labels.index(label)
        points[:3, i, a:b], res[0, i, a:b] = np.nan, -1.0
    c["data"]["points"], c["data"]["meta_points"]["residuals"] = points, res
    c.write(str(path))
    return truth, labels


def test_complete_fills_marker_gaps_and_leaves_everything_else_bit_identical(tmp_path: Path) -> None:
    gaps = {"Male:LKNE": (200, 260), "Male:RWRA": (400, 430)}
    truth, labels = _gappy_copy(tmp_path / "gappy.c3d", gaps)
    assert run(["complete", str(tmp_path / "gappy.c3d"), "-o", str(tmp_path / "filled.c3d"), "-q"]) == 0
    a, b = ezc3d.c3d(str(tmp_path / "gappy.c3d")), ezc3d.c3d(str(tmp_path / "filled.c3d"))
    pa, pb = a["data"]["points"], b["data"]["points"]
    ra, rb = a["data"]["meta_points"]["residuals"], b["data"]["meta_points"]["residuals"]
    observed = ra >= 0
    assert np.array_equal(pa[:, observed[0]], pb[:, observed[0]])  # measured samples untouched, to the bit
    for label, (s, e) in gaps.items():
        i = labels.index(label)
        assert np.isfinite(pb[:3, i, s:e]).all() and (rb[0, i, s:e] == 0).all()
        # filled where the body says; the model's accuracy is issue 6's business, this is a sanity bound
        assert np.linalg.norm(pb[:3, i, s:e] - truth[:3, i, s:e], axis=0).mean() < 500.0
    flagged = dict(zip(b["parameters"]["GFPOSE"]["FILLED_LABELS"]["value"], b["parameters"]["GFPOSE"]["FILLED_COUNTS"]["value"]))
    assert flagged == {label: float(e - s) for label, (s, e) in gaps.items()}
    for key, value in params(a).items():
        assert np.array_equal(np.asarray(value), np.asarray(params(b)[key])), key


def test_a_marker_never_seen_is_left_empty_and_named(tmp_path: Path, capsys) -> None:
    """A marker with no valid sample in the whole take (it fell off before the trial) has no offset to any
    segment, so `complete` cannot place it: it stays a gap, and the summary names it instead of only counting
    the markers that ride."""
    _, labels = _gappy_copy(tmp_path / "no_lelb.c3d", {"Male:LELB": (0, 810)})
    assert run(["complete", str(tmp_path / "no_lelb.c3d"), "-o", str(tmp_path / "filled.c3d")]) == 0
    out = capsys.readouterr()
    assert "a marker never seen in the take, left empty: Male:LELB" in out.out + out.err
    filled = ezc3d.c3d(str(tmp_path / "filled.c3d"))
    i = labels.index("Male:LELB")
    assert (filled["data"]["meta_points"]["residuals"][0, i] < 0).all()
    assert run(["convert", str(tmp_path / "no_lelb.c3d"), "-o", str(tmp_path / "same.npz")]) == 0
    out = capsys.readouterr()
    assert "never seen in the take" not in out.out + out.err  # convert edits nothing: nothing to say


def test_complete_on_a_clinical_file_keeps_analog_and_force_plates(tmp_path: Path) -> None:
    src = FIXTURES / "btk_gait.c3d"
    assert run(["complete", str(src), "-o", str(tmp_path / "g.c3d"), "--steps", "5", "-q"]) == 0
    a, b = ezc3d.c3d(str(src)), ezc3d.c3d(str(tmp_path / "g.c3d"))
    assert np.array_equal(a["data"]["analogs"], b["data"]["analogs"])
    for key, value in params(a).items():
        assert np.array_equal(np.asarray(value), np.asarray(params(b)[key])), key
    gaps_before = np.isnan(a["data"]["points"][0]).sum()
    gaps_after = np.isnan(b["data"]["points"][0]).sum()
    assert gaps_after < gaps_before  # markers that ride a segment got filled where the body is known
    filled = b["parameters"]["GFPOSE"]["FILLED_COUNTS"]["value"]
    assert int(sum(filled)) == gaps_before - gaps_after


def test_denoise_c3d_moves_body_markers_with_their_segments(tmp_path: Path) -> None:
    src = FIXTURES / "cmu_85_02.c3d"
    args = ["--steps", "5", "--seed", "3", "-q"]
    assert run(["denoise", str(src), "-o", str(tmp_path / "clean.c3d"), *args]) == 0
    assert run(["denoise", str(src), "-o", str(tmp_path / "clean.npz"), *args]) == 0
    a, b = ezc3d.c3d(str(src)), ezc3d.c3d(str(tmp_path / "clean.c3d"))
    labels = [str(x) for x in a["parameters"]["POINT"]["LABELS"]["value"]]
    moved = dict(zip(b["parameters"]["GFPOSE"]["MOVED_LABELS"]["value"], b["parameters"]["GFPOSE"]["MOVED_COUNTS"]["value"]))
    assert len(moved) >= 30
    # a clean take's markers barely move: the bone-length fit, plus a smoothing too light to see
    disp = np.linalg.norm(b["data"]["points"][:3] - a["data"]["points"][:3], axis=0) / 1000
    assert np.nanmedian(disp) < 0.005
    for i, label in enumerate(labels):
        if label not in moved:  # samples left where they were are bit-identical
            assert np.array_equal(a["data"]["points"][:, i], b["data"]["points"][:, i]), label
    # the markers now describe the denoised skeleton: reading them back lands near the denoised joints
    before, cleaned, back = io.read(src), io.read(tmp_path / "clean.npz"), io.read(tmp_path / "clean.c3d")
    to_clean = np.linalg.norm(back.positions - cleaned.positions, axis=-1).mean()
    from_start = np.linalg.norm(before.positions - cleaned.positions, axis=-1).mean()
    assert to_clean < 0.5 * from_start


def test_denoise_c3d_cleans_every_marker_not_only_the_skeleton(tmp_path: Path) -> None:
    """20 mm of noise on every marker of a real Vicon take: each marker of the output is closer to
    the captured one than the noisy input was (riding raw markers kept their own noise)."""
    src = FIXTURES / "cmu_85_02.c3d"
    c = ezc3d.c3d(str(src))
    clean = np.array(c["data"]["points"][:3])
    noisy = clean + np.random.default_rng(5).normal(0, 20.0, clean.shape)  # the file is in mm
    points = np.array(c["data"]["points"])
    points[:3] = noisy
    c["data"]["points"] = points
    c.write(str(tmp_path / "noisy.c3d"))
    for extra, bound in (([], 0.6), (["--free-bones"], 0.4)):
        out = tmp_path / f"clean{len(extra)}.c3d"
        assert run(["denoise", str(tmp_path / "noisy.c3d"), "-o", str(out), "-q", *extra]) == 0
        den = np.array(ezc3d.c3d(str(out))["data"]["points"][:3])
        before = np.nanmean(np.linalg.norm(noisy - clean, axis=0), 1)  # per marker
        after = np.nanmean(np.linalg.norm(den - clean, axis=0), 1)
        assert (after < before).all(), np.flatnonzero(after >= before)
        assert after.mean() < bound * before.mean(), (extra, after.mean(), before.mean())


# ---------------------------------------------------------------- BVH
BVH_FIXTURES = ["cmu_12_01_walk", "cmu_131_03_hop", "fair_wave_hello"]


@pytest.mark.parametrize("name", BVH_FIXTURES)
def test_bvh_round_trip_keeps_hierarchy_and_channels(name: str, tmp_path: Path) -> None:
    src = FIXTURES / f"{name}.bvh"
    take = io.read(src)
    io.write(take, tmp_path / "out.bvh")
    a, b = bvh_io.read_skeleton(src), bvh_io.read_skeleton(tmp_path / "out.bvh")
    assert b.names == a.names and b.channels == a.channels and np.array_equal(a.offsets, b.offsets)
    assert b.frame_time == pytest.approx(a.frame_time, rel=1e-9)
    assert np.array_equal(a.motion, b.motion)


def test_a_windows_bvh_keeps_its_line_endings_and_frame_time_as_written(tmp_path: Path, capsys) -> None:
    """A BVH saved on Windows (CRLF, a byte-order mark, `Frame Time: .0083333`): read, and denoised
    into a file whose hierarchy and Frame Time bytes are the input's, every line ending CRLF."""
    src = FIXTURES / "cmu_12_01_walk.bvh"
    text = src.read_bytes().replace(b"\r\n", b"\n")
    assert b"Frame Time: .0083333" in text
    crlf = tmp_path / "take.bvh"
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(io.read(crlf).positions, io.read(src).positions)
    code = run(["denoise", str(crlf), "-q", "-o", str(tmp_path / "out.bvh")])
    assert code == 0, capsys.readouterr().err
    out = (tmp_path / "out.bvh").read_bytes()
    assert out.count(b"\n") == out.count(b"\r\n") == text.count(b"\n")
    head = text.split(b"MOTION")[0].replace(b"\n", b"\r\n")
    assert out.startswith(head) and b"\r\nFrame Time: .0083333\r\n" in out
    assert not np.array_equal(bvh_io.read_skeleton(tmp_path / "out.bvh").motion, bvh_io.read_skeleton(crlf).motion)


@pytest.mark.parametrize("frame_time,rate", [("0.008333", 120.0), (".0083333", 120.0), ("0.033367", 30000 / 1001)])
def test_a_bvh_frame_time_printed_to_few_digits_converts_at_its_capture_rate(tmp_path: Path, capsys,
                                                                               frame_time: str, rate: float) -> None:
    """Blender's BVH exporter prints `Frame Time: 0.008333` for 120 Hz: that is 1/120 to six places, and a
    C3D or TRC made from it runs at 120 Hz (POINT:RATE), not 120.0048 Hz."""
    text = (FIXTURES / "cmu_12_01_walk.bvh").read_text().replace("Frame Time: .0083333", f"Frame Time: {frame_time}")
    src = tmp_path / "take.bvh"
    src.write_text(text)
    assert io.read(src).fps == pytest.approx(rate, rel=1e-12)
    assert run(["convert", str(src), "-q", "-o", str(tmp_path / "take.c3d")]) == 0, capsys.readouterr().err
    assert run(["convert", str(src), "-q", "-o", str(tmp_path / "take.trc")]) == 0, capsys.readouterr().err
    import ezc3d

    c = ezc3d.c3d(str(tmp_path / "take.c3d"))
    assert c["parameters"]["POINT"]["RATE"]["value"][0] == pytest.approx(rate, rel=1e-7)
    assert io.read(tmp_path / "take.trc").fps == pytest.approx(rate, rel=1e-7)


def test_bvh_write_back_moves_mapped_joints_and_keeps_fingers(tmp_path: Path) -> None:
    src = FIXTURES / "cmu_12_01_walk.bvh"
    take = io.read(src)
    rng = np.random.default_rng(0)
    edited = take.positions.copy()
    nudge = rng.normal(0, 0.02, (take.n_frames, 3)).astype(np.float32)
    edited[:, 13] += nudge  # nudge the left wrist
    io.write(take.with_positions(edited, take.mask), tmp_path / "out.bvh")
    a, b = bvh_io.read_skeleton(src), bvh_io.read_skeleton(tmp_path / "out.bvh")
    changed = {a.names[j] for j in range(len(a.names)) for k in range(len(a.channels[j]))
               if not np.array_equal(a.motion[:, a.channel_start[j] + k], b.motion[:, a.channel_start[j] + k])}
    assert changed and changed <= {"LeftShoulder", "LeftArm", "LeftForeArm"}  # only the chain above the wrist
    back = io.read(tmp_path / "out.bvh")
    err = np.linalg.norm(back.positions - edited, axis=-1)
    # the wrist turns about the (unmoved) elbow onto the target's direction; only the part of the
    # nudge that would stretch the forearm remains (about half of it for a random nudge)
    assert err[:, 13].mean() < 0.6 * np.linalg.norm(nudge, axis=-1).mean()
    assert np.delete(err, 13, axis=1).max() < 1e-4


@pytest.mark.parametrize("name", BVH_FIXTURES)
def test_fresh_17_joint_bvh_reproduces_the_poses(name: str, tmp_path: Path) -> None:
    take = io.read(FIXTURES / f"{name}.bvh")
    code = run(["convert", str(FIXTURES / f"{name}.bvh"), "-o", str(tmp_path / "j17.bvh"), "-q"])
    assert code == 0
    back = io.read(tmp_path / "j17.bvh")
    assert back.provenance.map == "gfpose17" and back.provenance.up == "+Y" and back.provenance.units == "cm"
    err = np.linalg.norm(back.positions - take.positions, axis=-1)
    assert err.mean() < 0.004 and err.max() < 0.015  # only bone-length changes of the source remain
    skel = bvh_io.read_skeleton(tmp_path / "j17.bvh")
    jumps = np.abs(np.diff(skel.motion[:, 3:], axis=0))
    assert jumps.max() < 90.0  # Euler curves are continuous: no 360-degree flips between frames


def test_a_take_with_held_bone_lengths_comes_back_from_a_fresh_bvh_exactly(tmp_path: Path, capsys) -> None:
    """A denoised take holds the performer's bone lengths, so a 17-joint BVH can hold it exactly; the hips'
    and shoulders' directions in the pelvis and chest were rigid offsets (32 mm off at the hips on this
    marker take), and a shrugging shoulder's rest offset was the median vector, shorter than its bone."""
    src = FIXTURES / "cmu_85_02.c3d"
    code = run(["denoise", str(src), "-o", str(tmp_path / "clean.npz"), "-q"])
    assert code == 0
    code = run(["convert", str(tmp_path / "clean.npz"), "-o", str(tmp_path / "clean.bvh")])
    out = capsys.readouterr()
    assert code == 0 and "largest joint misfit 0.0 mm" in out.out + out.err, out.out + out.err
    clean, back = io.read(tmp_path / "clean.npz"), io.read(tmp_path / "clean.bvh")
    assert np.abs(back.positions - clean.positions).max() < 2e-4  # BVH text's 6 decimals of cm


def test_bvh_output_refuses_gaps_and_multiple_hypotheses(tmp_path: Path, capsys) -> None:
    code = run(["convert", str(FIXTURES / "ktk_tennis_serve_nan.c3d"), "-o", str(tmp_path / "t.bvh")])
    assert code == 2 and not (tmp_path / "t.bvh").exists()
    assert "misses joint RShoulder" in capsys.readouterr().err


def test_hypotheses_are_collapsed_by_convert_aggregate_as_the_refusal_says(tmp_path: Path, capsys) -> None:
    """A BVH holds one pose per frame: a file of S hypotheses was refused with "pass --aggregate mean", an option
    convert did not have. It has it now, and the BVH holds the hypotheses' mean."""
    from gfpose_cli.core.take import Take

    walk = io.read(Path(__file__).parent / "data" / "vendors" / "dme__blender_rendering_example.bvh")
    rng = np.random.default_rng(0)
    hyps = walk.positions[:, None] + rng.normal(0, 0.01, (walk.n_frames, 3, 17, 3)).astype(np.float32)
    io.write(Take(positions=hyps, fps=walk.fps), tmp_path / "h3.npz")
    assert run(["convert", str(tmp_path / "h3.npz"), "-o", str(tmp_path / "h.bvh")]) == 2
    assert "pass --aggregate mean" in capsys.readouterr().err
    assert run(["convert", str(tmp_path / "h3.npz"), "-o", str(tmp_path / "h.npz"), "--aggregate", "mean"]) == 0
    assert "mean of 3 hypotheses" in capsys.readouterr().err
    np.testing.assert_allclose(io.read(tmp_path / "h.npz").positions, hyps.mean(1), atol=1e-6)
    assert run(["convert", str(tmp_path / "h3.npz"), "-o", str(tmp_path / "h.bvh"), "--aggregate", "median"]) == 0
    # complete -s S names the same option: it has it too
    partial = walk.positions[:40].copy()
    mask = np.ones(partial.shape[:2], bool)
    mask[:, JOINTS.index("LWrist")] = False
    partial[~mask] = np.nan
    io.write(Take(positions=partial, mask=mask, fps=walk.fps), tmp_path / "partial.npz")
    args = ["complete", str(tmp_path / "partial.npz"), "-s", "3", "--per-frame", "-o", str(tmp_path / "c.bvh")]
    assert run(args) == 2 and "pass --aggregate mean" in capsys.readouterr().err
    assert run([*args, "--aggregate", "mean"]) == 0
    back = io.read(tmp_path / "c.bvh")
    assert back.n_frames == 40 and back.mask.all()


def test_input_format_and_unit_overrides(tmp_path: Path, capsys) -> None:
    """--from reads a file whatever its extension; --units rescales a BVH or C3D and the C3D
    written back stays in the file's own numbers."""
    walk = tmp_path / "walk.txt"
    walk.write_bytes((FIXTURES / "cmu_12_01_walk.bvh").read_bytes())
    assert run(["convert", str(walk), "-o", str(tmp_path / "x.npz")]) == 2
    assert "--from" in capsys.readouterr().err
    assert run(["convert", str(walk), "--from", "bvh", "-o", str(tmp_path / "guessed.npz")]) == 0
    # the CMU body in centimetres is 0.44 times a person: the body check refuses it, naming a unit
    assert run(["convert", str(walk), "--from", "bvh", "--units", "cm", "-o", str(tmp_path / "cm.npz")]) == 2
    assert "shorter than any person's" in capsys.readouterr().err
    assert run(["convert", str(walk), "--from", "bvh", "--units", "cm", "--force-read", "-o", str(tmp_path / "cm.npz")]) == 0
    guessed, cm = io.read(tmp_path / "guessed.npz"), io.read(tmp_path / "cm.npz", force_read=True)
    assert guessed.n_frames == cm.n_frames == 524
    ratio = np.linalg.norm(cm.positions[:, 10]) / np.linalg.norm(guessed.positions[:, 10])
    assert ratio == pytest.approx(0.01 / bvh_io.UNITS["acclaim"], rel=1e-4)  # the CMU unit was guessed

    src = FIXTURES / "cmu_85_02.c3d"
    in_m = io.read(src, units="m", force_read=True)
    in_mm = io.read(src)
    assert in_m.provenance.units == "m" and in_mm.provenance.units == "mm"
    # every joint scales with the units but the pelvis and hips, whose regression adds a few millimetres
    # (io.maps.HARRINGTON) that are millimetres in either reading
    scaled = [j for j in range(17) if j not in (0, 1, 4)]
    np.testing.assert_allclose(in_m.positions[:, scaled], in_mm.positions[:, scaled] * 1000, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(in_m.positions[:, [0, 1, 4]], in_mm.positions[:, [0, 1, 4]] * 1000, atol=16.5)  # |(9.9, 10.9, 7.3)|
    assert run(["convert", str(src), "--units", "m", "--add-joints", "--force-read", "-o", str(tmp_path / "j.c3d"), "-q"]) == 0
    a, b = ezc3d.c3d(str(src)), ezc3d.c3d(str(tmp_path / "j.c3d"))
    n = a["data"]["points"].shape[1]
    np.testing.assert_array_equal(b["data"]["points"][:, :n], a["data"]["points"])  # markers untouched
    labels = b["parameters"]["POINT"]["LABELS"]["value"]
    head = b["data"]["points"][:3, labels.index("Male:gfpose_Head")]
    front_head = b["data"]["points"][:3, labels.index("Male:LFHD")]
    # joints land among the markers in the file's own numbers, not scaled by the override
    assert np.median(np.linalg.norm(head - front_head, axis=0)) < 200
    assert b["parameters"]["POINT"]["UNITS"]["value"] == a["parameters"]["POINT"]["UNITS"]["value"]

    for bad in (["--units", "furlong"], ["--units", "-2"]):
        assert run(["convert", str(src), *bad, "-o", str(tmp_path / "y.npz")]) == 2
        assert "--units" in capsys.readouterr().err
    # an NPZ is in metres unless --units says otherwise: this one read as cm is a body a hundred times too small
    assert run(["convert", str(tmp_path / "guessed.npz"), "--units", "cm", "-o", str(tmp_path / "z.npz")]) == 2
    assert "pass --units m if it is in m" in capsys.readouterr().err


def test_train_on_a_folder_of_c3d_files(tmp_path: Path, capsys) -> None:
    """A studio folder: usable takes train, a prop-only or unmappable file is skipped and listed;
    --strict stops at it instead."""
    folder = tmp_path / "day3"
    folder.mkdir()
    for name in ("cmu_85_02", "ktk_tennis_serve_nan", "ezc3d_vicon"):
        (folder / f"{name}.c3d").write_bytes((FIXTURES / f"{name}.c3d").read_bytes())
    args = ["train", str(folder), "--width", "32", "--blocks", "1", "--batch-size", "32", "--steps", "2",
            "--no-holdout", "--device", "cpu", "-q"]
    assert run([*args, "-o", str(tmp_path / "m.pt")]) == 0
    err = capsys.readouterr().err
    assert "1 training input skipped" in err
    from gfpose_cli.model import checkpoint

    summary = checkpoint.read(tmp_path / "m.pt")["data_summary"]
    assert summary["takes"] == 2
    # the file is refused once, its sentence naming both of its performers
    assert [Path(s).name for s in summary["skipped"]] == ["ezc3d_vicon.c3d"]
    assert run([*args, "--strict", "-o", str(tmp_path / "s.pt")]) == 2
    assert "ezc3d_vicon.c3d" in capsys.readouterr().err and not (tmp_path / "s.pt").exists()


def test_a_partial_marker_set_is_listed_as_skipped_not_dropped_in_silence(tmp_path: Path, capsys) -> None:
    """A lower-body gait file reads (7 of 17 joints) but gives no whole pose: it was left out of training
    without a word ("1 takes" of 2 files); now it is listed, with the joints it never has."""
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "walk.c3d").write_bytes((FIXTURES / "cmu_85_02.c3d").read_bytes())
    lower = Path(__file__).parent / "data" / "vendors" / "btk__type1.c3d"
    (folder / "gait.c3d").write_bytes(lower.read_bytes())
    args = ["train", str(folder), "--width", "32", "--blocks", "1", "--batch-size", "32", "--steps", "2",
            "--no-holdout", "--device", "cpu", "-q"]
    assert run([*args, "-o", str(tmp_path / "m.pt")]) == 0
    err = capsys.readouterr().err
    assert "1 training input skipped" in err  # the table's cells fold: its sentence is checked with --strict
    from gfpose_cli.model import checkpoint

    summary = checkpoint.read(tmp_path / "m.pt")["data_summary"]
    assert summary["takes"] == 1 and [Path(s).name for s in summary["skipped"]] == ["gait.c3d"]
    assert run([*args, "--strict", "-o", str(tmp_path / "s.pt")]) == 2
    err = capsys.readouterr().err
    assert "gait.c3d: no frame holds all 17 joints" in err and "Head, LShoulder" in err and "never seen" in err


def test_a_c3d_changed_between_read_and_write_back_is_refused(tmp_path: Path) -> None:
    """The write-back reads its source again (a parse of the same bytes is reused, io/c3d.py's load); a
    source whose bytes changed after the read is refused, never written into."""
    from gfpose_cli.core.errors import InputError

    src = tmp_path / "trial.c3d"
    src.write_bytes((Path(__file__).parent / "data" / "vendors" / "pycgm__Movement_trial.c3d").read_bytes())
    take = io.read(src)
    io.write(take, tmp_path / "same.c3d")  # unchanged: written
    data = bytearray(src.read_bytes())
    data[-100] ^= 0x01  # one bit of one sample of the last frame
    src.write_bytes(bytes(data))
    with pytest.raises(InputError, match="changed since it was read"):
        io.write(take, tmp_path / "changed.c3d")
    assert not (tmp_path / "changed.c3d").exists()


def test_a_c3d_converted_to_bvh_does_not_carry_bone_length_changes_down_the_chain(tmp_path: Path, capsys) -> None:
    """Joint centres from markers change length a little from frame to frame (cmu_85_02: the thorax to
    shoulder by 9 %), which a BVH's fixed bones cannot follow. Each bone was aimed from the source's parent
    joint, so every length change was carried on to the joints below (wrists 17-24 mm off on average, 133
    mm at worst); aimed from where the skeleton has put the parent, each joint is off by its own bone's
    change only."""
    src = FIXTURES / "cmu_85_02.c3d"
    assert run(["convert", str(src), "-q", "-o", str(tmp_path / "take.bvh")]) == 0, capsys.readouterr().err
    a, b = io.read(src), io.read(tmp_path / "take.bvh")
    pa = a.positions + (a.root[:, None] if a.root is not None else 0)
    pb = b.positions + (b.root[:, None] if b.root is not None else 0)
    err = np.linalg.norm(pa - pb, axis=-1) * 1000
    wrists = [JOINTS.index("LWrist"), JOINTS.index("RWrist")]
    assert err.mean() < 10.5 and err.max() < 100 and err[:, wrists].mean() < 12, (err.mean(), err.max(), err[:, wrists].mean())
