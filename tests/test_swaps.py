"""Marker label swaps: two markers whose labels the capture program exchanged for a while.

The real Vicon Plug-in Gait trial of tests/data/vendors with its knee markers' labels exchanged for a
stretch of frames, as a labeller does after an occlusion. Before, a swap of a few frames was dropped as a
spike, but one of 6 frames or more (50 ms at 120 Hz) came out of `denoise` half-moved, neither the input
nor the truth, counted as cleaned (an LKNE 236 mm off the truth on average), and the knees' joints wrong.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from gfpose_cli import io
from gfpose_cli.io.c3d import open_c3d
from gfpose_cli.signal.swaps import label_swaps

from .test_cli import run

VENDORS = Path(__file__).parent / "data" / "vendors"
TRIAL = VENDORS / "pycgm__Movement_trial.c3d"


def trial_copy(path: Path, swaps: tuple[tuple[str, str, int, int], ...] = (), gap: tuple[str, int, int] | None = None,
               gaps: tuple[tuple[str, int, int], ...] = ()) -> np.ndarray:
    """The trial rewritten by ezc3d with markers' labels exchanged in frames [start, stop) (and markers
    missing in gaps); returns the clean points (4, N, F) as read."""
    c = open_c3d(TRIAL)
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    clean = np.array(c["data"]["points"])
    pts = clean.copy()
    for a, b, start, stop in swaps:
        i, j = labels.index(a), labels.index(b)
        pts[:, [i, j], start:stop] = pts[:, [j, i], start:stop]
    for name, start, stop in ((gap,) if gap else ()) + tuple(gaps):
        pts[:3, labels.index(name), start:stop] = np.nan
    out = open_c3d(TRIAL)
    del out["data"]["meta_points"]
    out["data"]["points"] = pts
    out.write(str(path))
    return clean


def points(path: Path) -> np.ndarray:
    return np.array(open_c3d(path)["data"]["points"])[:3]


def test_a_swap_is_read_put_right_and_cleaned_as_the_clean_take_is(tmp_path: Path, capsys) -> None:
    trial_copy(tmp_path / "clean.c3d")
    truth = trial_copy(tmp_path / "swapped.c3d", swaps=(("LKNE", "RKNE", 100, 112), ("LANK", "RANK", 200, 230)))
    take, ref = io.read(tmp_path / "swapped.c3d"), io.read(tmp_path / "clean.c3d")
    said, first = " ".join(take.provenance.warnings), take.provenance.first_frame  # 695: frames as the file numbers them
    assert f"LKNE and RKNE in frames {first + 100}-{first + 111}" in said
    assert f"LANK and RANK in frames {first + 200}-{first + 229}" in said
    np.testing.assert_array_equal(take.positions, ref.positions)  # the knees and ankles on their own legs
    assert not any("swapped" in w for w in ref.provenance.warnings)
    labels = [str(x) for x in open_c3d(TRIAL)["parameters"]["POINT"]["LABELS"]["value"]]
    for task in ("denoise", "complete"):
        for name in ("swapped", "clean"):
            assert run([task, str(tmp_path / f"{name}.c3d"), "-o", str(tmp_path / f"{name}.{task}.c3d")], capsys)[0] == 0
        out, clean = points(tmp_path / f"swapped.{task}.c3d"), points(tmp_path / f"clean.{task}.c3d")
        np.testing.assert_array_equal(out, clean)  # to the bit: the swap put right in the file too
        k = labels.index("LKNE")
        assert np.abs(out[:, k, 100:112] - truth[:3, k, 100:112]).max() < 30.0  # mm: on the left knee
    # convert reads it put right (said), and its copy of the file holds them so, counted
    code, _, err = run(["convert", str(tmp_path / "swapped.c3d"), "-o", str(tmp_path / "s.npz")], capsys)
    assert code == 0 and "marker labels swapped and swapped back" in err
    code, out, err = run(["convert", str(tmp_path / "swapped.c3d"), "-o", str(tmp_path / "copy.c3d")], capsys)
    assert code == 0 and "39 markers as they were but 84 samples of swapped labels put right" in out + err
    np.testing.assert_array_equal(points(tmp_path / "copy.c3d"), points(tmp_path / "clean.c3d"))
    np.testing.assert_allclose(io.read(tmp_path / "s.npz").positions, ref.positions, atol=1e-7)


def test_a_swap_to_the_end_or_from_a_gap_is_told_by_the_sides(tmp_path: Path, capsys) -> None:
    # the knees' labels exchanged until the end of the take; or after a gap in LKNE until an exchange back,
    # then again for a while: before, read as labelled, the knee joints on the wrong legs (396 mm) and no
    # word. LKNE is the one standing right of RKNE across the body there: put right, said
    trial_copy(tmp_path / "clean.c3d")
    trial_copy(tmp_path / "to_end.c3d", swaps=(("LKNE", "RKNE", 250, 323),))
    trial_copy(tmp_path / "gap_then.c3d", swaps=(("LKNE", "RKNE", 120, 150), ("LKNE", "RKNE", 200, 230)),
               gap=("LKNE", 110, 120))
    trial_copy(tmp_path / "clean_gap.c3d", gap=("LKNE", 110, 120))
    first = io.read(tmp_path / "clean.c3d").provenance.first_frame
    for name, said, clean in (("to_end", [(250, 322)], "clean"), ("gap_then", [(120, 149), (200, 229)], "clean_gap")):
        take, ref = io.read(tmp_path / f"{name}.c3d"), io.read(tmp_path / f"{clean}.c3d")
        warned = " ".join(take.provenance.warnings)
        for a, b in said:
            assert f"LKNE and RKNE in frames {first + a}-{first + b} (each on the other's side of the body)" in warned
        np.testing.assert_array_equal(take.positions, ref.positions)
    # a denoised copy is the clean take's, to the bit
    for name in ("to_end", "clean"):
        assert run(["denoise", str(tmp_path / f"{name}.c3d"), "-o", str(tmp_path / f"{name}.out.c3d")], capsys)[0] == 0
    np.testing.assert_array_equal(points(tmp_path / "to_end.out.c3d"), points(tmp_path / "clean.out.c3d"))


def test_swaps_around_occlusions_are_put_right_or_held(tmp_path: Path, capsys) -> None:
    # the labeller's usual slip: LKNE comes back into view after an occlusion and the two knees' labels are
    # swapped from there to the end of the take (RKNE jumps to the left knee as LKNE appears at the right),
    # and in a second take the swap runs on through a later occlusion of LKNE. Before, both were read as
    # labelled with no word (the knee joints on the wrong legs to the end). Now put right in every frame
    # both are seen; RKNE's lone samples inside the later occlusion (the left knee, under the right label)
    # are held. Where both knees were hidden before the swap, no jump says which labels are wrong: the
    # stretch is held and said, nothing exchanged
    labels = [str(x) for x in open_c3d(TRIAL)["parameters"]["POINT"]["LABELS"]["value"]]
    lk, rk = labels.index("LKNE"), labels.index("RKNE")
    trial_copy(tmp_path / "clean_gap.c3d", gaps=(("LKNE", 100, 110),))
    trial_copy(tmp_path / "after_gap.c3d", swaps=(("LKNE", "RKNE", 110, 323),), gaps=(("LKNE", 100, 110),))
    trial_copy(tmp_path / "clean_gaps.c3d", gaps=(("LKNE", 100, 110), ("LKNE", 200, 210), ("RKNE", 200, 210)))
    trial_copy(tmp_path / "through.c3d", swaps=(("LKNE", "RKNE", 110, 323),), gaps=(("LKNE", 100, 110), ("LKNE", 200, 210)))
    first = io.read(tmp_path / "clean_gap.c3d").provenance.first_frame
    take = io.read(tmp_path / "after_gap.c3d")
    assert f"LKNE and RKNE in frames {first + 110}-{first + 322} (each on the other's side" in " ".join(take.provenance.warnings)
    np.testing.assert_array_equal(take.positions, io.read(tmp_path / "clean_gap.c3d").positions)
    take = io.read(tmp_path / "through.c3d")
    warned = " ".join(take.provenance.warnings)
    assert f"LKNE and RKNE in frames {first + 110}-{first + 199}" in warned and f"LKNE and RKNE in frames {first + 210}-{first + 322}" in warned
    assert f"where no jump tells which labels are wrong: LKNE and RKNE in frames {first + 200}-{first + 209}" in warned
    ref = io.read(tmp_path / "clean_gaps.c3d")  # both knees unseen in 200-210: what holding RKNE's lone samples leaves
    np.testing.assert_array_equal(take.positions, ref.positions)
    assert run(["denoise", str(tmp_path / "through.c3d"), "-o", str(tmp_path / "through.out.c3d")], capsys)[0] == 0
    out, raw = points(tmp_path / "through.out.c3d"), points(tmp_path / "through.c3d")
    np.testing.assert_array_equal(out[:, rk, 200:210], raw[:, rk, 200:210])  # held: left as it was
    # both knees hidden for ten frames, then swapped: held and said, left as they were by denoise
    trial_copy(tmp_path / "both.c3d", swaps=(("LKNE", "RKNE", 110, 323),), gaps=(("LKNE", 100, 110), ("RKNE", 100, 110)))
    take = io.read(tmp_path / "both.c3d")
    warned = " ".join(take.provenance.warnings)
    assert "swapped and swapped back" not in warned
    assert f"where no jump tells which labels are wrong: LKNE and RKNE in frames {first + 110}-{first + 322}" in warned
    assert not take.mask[110:, [2, 5]].any() and take.mask[:100, [2, 5]].all()  # the knees make no joint there
    code, said, err = run(["denoise", str(tmp_path / "both.c3d"), "-o", str(tmp_path / "both.out.c3d")], capsys)
    assert code == 0 and f"{2 * 213} samples held (labels not told, or off the body) left as they were" in said + err
    np.testing.assert_array_equal(points(tmp_path / "both.out.c3d")[:, [lk, rk], 110:], points(tmp_path / "both.c3d")[:, [lk, rk], 110:])
    # the knee markers on the wrong sides all through the take (placed or labelled so): held and said
    trial_copy(tmp_path / "all.c3d", swaps=(("LKNE", "RKNE", 0, 323),))
    take = io.read(tmp_path / "all.c3d")
    assert f"where no jump tells which labels are wrong: LKNE and RKNE in frames {first}-{first + 322}" in " ".join(take.provenance.warnings)
    assert not take.mask[:, [2, 5]].any() and take.mask[:, [1, 3, 4, 6]].all()


def test_an_exchange_nothing_tells_is_held_said_and_left_as_it_was(tmp_path: Path, capsys) -> None:
    # a knee and an ankle marker (not one name on two sides) exchanged to the take's end: which labelling
    # is right is not told. Before, read as labelled and said nothing: `denoise` moved LKNE 205 mm and LANK
    # 118 mm off the file for the rest of the take (neither the input nor the truth) and wrote the left knee
    # and ankle joints 362 and 507 mm off. Now both markers are held over the stretch both are seen in:
    # they make no joint (the knee and ankle are missing, said), and every output leaves them as they were
    trial_copy(tmp_path / "knee_ankle.c3d", swaps=(("LKNE", "LANK", 250, 323),))
    take = io.read(tmp_path / "knee_ankle.c3d")
    first = take.provenance.first_frame
    warned = " ".join(take.provenance.warnings)
    assert "swapped and swapped back" not in warned
    assert (f"nothing tells which labelling is right (no way back in the take and no side to tell, or a marker in two "
            f"exchanges at once): LKNE and LANK at frame {first + 250} (held in frames {first}-{first + 322})") in warned
    assert "LKnee, LAnkle missing in every frame: markers LANK, LKNE are held" in warned
    assert not take.mask[:, [5, 6]].any() and take.mask[:, [0, 1, 2, 3, 4]].all()
    labels = [str(x) for x in open_c3d(TRIAL)["parameters"]["POINT"]["LABELS"]["value"]]
    cols = [labels.index("LKNE"), labels.index("LANK")]
    for task in ("denoise", "complete"):
        code, out, err = run([task, str(tmp_path / "knee_ankle.c3d"), "-o", str(tmp_path / f"{task}.c3d")], capsys)
        assert code == 0 and "646 samples held (labels not told, or off the body) left as they were" in out + err
        np.testing.assert_array_equal(points(tmp_path / f"{task}.c3d")[:, cols], points(tmp_path / "knee_ankle.c3d")[:, cols])


def test_a_way_back_too_close_to_see_is_cut_where_the_sides_come_right() -> None:
    # a real tennis serve's heel labels exchanged for most of the take; they trade back with the feet
    # together (4.5 cm apart: no exchange to see). The swap ends where LHEE stands left of RHEE again,
    # not at the take's end
    from gfpose_cli.io.maps import side_pairs

    from .conftest import FIXTURES

    names, xyz, seen = io.marker_trajectories(FIXTURES / "ktk_tennis_serve_nan.c3d")
    a, b = names.index("Derrick:LHEE"), names.index("Derrick:RHEE")
    xyz[790:1081, [a, b]] = xyz[790:1081, [b, a]]
    found = label_swaps(xyz, seen, np.array(["\x00" not in n for n in names]), pairs=side_pairs(names))
    assert [(s.a, s.b, s.start, s.stop) for s in found] == [(a, b, 790, 1081)] and not found.untold


def test_no_real_take_has_swaps_it_does_not_hold() -> None:
    # every real C3D of the vendors' set and the fixtures the reader opens, at its rate and at a half, a
    # quarter and an eighth of it (faster motion between frames): no swap claimed, no exchange said
    from gfpose_cli.core.errors import InputError
    from gfpose_cli.io.maps import side_pairs

    from .conftest import FIXTURES

    looked = 0
    for path in sorted(VENDORS.glob("*.c3d")) + sorted(FIXTURES.glob("*.c3d")):
        try:
            names, xyz, seen = io.marker_trajectories(path)
        except InputError:  # the files refused for what they are (tests/test_vendors.py)
            continue
        body = np.array(["\x00" not in n for n in names])
        for k in (1, 2, 4, 8):
            found = label_swaps(xyz[::k], seen[::k], body, pairs=side_pairs(names))
            assert not found.swaps and not found.untold, (path.name, k)
        looked += 1
    assert looked >= 34


def test_a_swap_in_a_text_export_is_put_right_in_its_cells(tmp_path: Path, capsys) -> None:
    # the same through a lab's plain CSV of named points (the marker exports' shared path): the swapped
    # cells come back as the clean file's denoise writes them
    from .test_capture_csv import write_points_csv

    write_points_csv(tmp_path / "clean.csv")
    lines = (tmp_path / "clean.csv").read_text().splitlines()
    head = lines[0].split(",")
    a = [head.index(f"LKNE_{x}") for x in "XYZ"]
    b = [head.index(f"RKNE_{x}") for x in "XYZ"]
    for r in range(101, 113):  # frames 100-111 (line 0 is the header)
        cells = lines[r].split(",")
        for i, j in zip(a, b):
            cells[i], cells[j] = cells[j], cells[i]
        lines[r] = ",".join(cells)
    (tmp_path / "swapped.csv").write_text("\n".join(lines) + "\n")
    for name in ("clean", "swapped"):
        code, _, err = run(["denoise", str(tmp_path / f"{name}.csv"), "-o", str(tmp_path / f"{name}.out.csv")], capsys)
        assert code == 0 and ("marker labels swapped" in err) == (name == "swapped")
    assert (tmp_path / "swapped.out.csv").read_text() == (tmp_path / "clean.out.csv").read_text()


def test_a_whole_legs_labels_swapped_at_once_are_read_right_or_held() -> None:
    # a real gait trial with all five left/right leg marker pairs (thigh, knee, tibia, ankle, heel) swapped
    # for a third of the take, as a labeller swaps a whole leg: a heel lands by the other ankle, so the
    # exchanges cross pairs (RANK with LHEE). Before, the crossing exchanges were put right one after
    # another and 162 samples were read on the wrong marker; now a marker in two exchanges at once makes
    # none of them claimed: every sample is read right, or held
    from gfpose_cli.io.maps import side_pairs
    from gfpose_cli.signal.swaps import unswapped

    from .conftest import FIXTURES

    names, xyz, seen = io.marker_trajectories(FIXTURES / "btk_gait.c3d")
    body = np.array(["\x00" not in n for n in names])
    pairs = side_pairs(names)
    leg = [(a, b) for a, b in pairs if names[a][1:] in ("THI", "KNE", "TIB", "ANK", "HEE", "TOE")]
    assert len(leg) >= 5
    F = len(xyz)
    x, o = xyz.copy(), seen.copy()
    for a, b in leg:
        x[F // 3:2 * F // 3, [a, b]] = x[F // 3:2 * F // 3, [b, a]]
        o[F // 3:2 * F // 3, [a, b]] = o[F // 3:2 * F // 3, [b, a]]
    found = label_swaps(x, o, body, pairs=pairs)
    fixed, _ = unswapped(x, found.swaps)
    read = o & ~found.held(o.shape)
    wrong = read & (np.linalg.norm(np.nan_to_num(fixed - xyz), axis=-1) > 0.001)
    assert wrong.sum() == 0 and read[F // 3:2 * F // 3].sum() > 0
