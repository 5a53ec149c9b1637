"""Markers off the body for a while, on real takes: how often a stretch is held and said, and how often
a joint is still read off the body.

Real C3D takes of the fixtures, the vendors' set (tests/data/vendors) and the training archives' CMU
marker C3Ds where present (/tmp is not needed: they are read from ../shared/data in place), each with one
marker the map builds joints from moved off the body for a stretch drawn at random (seed 0; 0.1-1 s):
by a fixed 100-300 mm offset (its label on another marker of the same limb), frozen 100-300 mm off where
it was (a ghost, a stray reflection), onto another of the take's markers 150 mm or more away, and by a fixed
offset from a random frame to the take's end (it never comes back), and by a fixed offset between two
0.1 s gaps of the marker (it comes back from an occlusion on a ghost and leaves in another). Columns:
trials; trials said (held); trials where a joint is still read 30 mm or more off the clean take's in some
frame (a wrong output); those joint samples. Before this check every trial was read as data with no word (said 0). The clean
takes at 1/1, 1/2, 1/4 and 1/8 of their rate are the false-alarm rows: markers held there.

    python bench/offbody.py > bench/results/offbody.md
"""
from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speed import header  # noqa: E402  (bench/, beside this script)

from gfpose_cli import io  # noqa: E402
from gfpose_cli.core.errors import InputError  # noqa: E402
from gfpose_cli.io.c3d import left_the_body, open_c3d  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
VENDORS = ROOT / "tests" / "data" / "vendors"
TAKES = [FIXTURES / "btk_gait.c3d", FIXTURES / "cmu_85_02.c3d", VENDORS / "pycgm__Movement_trial.c3d",
         VENDORS / "btk__PlugInC3D.c3d", VENDORS / "btk__561xxa01_anonym.c3d", VENDORS / "ammr__2014001_C1_01.c3d",
         VENDORS / "btk__mocap36.c3d"]
KINDS = ("offset, for a while", "frozen (a ghost), for a while", "onto another marker, for a while", "offset, to the end",
         "offset, between two gaps")
PER_TAKE = 8


def said(take) -> bool:  # noqa: ANN001
    return any("off the body" in w or "jump off" in w for w in take.provenance.warnings)


def trials(path: Path, rng: np.random.Generator, tmp: Path) -> dict[str, list[int]]:
    c = open_c3d(path)
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    pts0 = np.array(c["data"]["points"])
    rate = float(c["parameters"]["POINT"]["RATE"]["value"][0])
    ref = io.read(path)
    scale = 1.0 / ref.provenance.units_to_m  # file units per metre
    sources = set(ref.writeback.skeleton_map.resolved_sources(ref.writeback.names))
    subject = ref.writeback.subject
    cand = [i for i, label in enumerate(labels) if label in sources or (subject and f"{subject}:{label}" in sources)]
    F = pts0.shape[2]
    out = {}
    for kind in KINDS:
        row = [0, 0, 0, 0]
        if kind.endswith("gaps"):  # added later: its own draws, so the other kinds' trials stay as they were
            rng = np.random.default_rng([1, len(labels), F])
        for _ in range(PER_TAKE):
            i = int(rng.choice(cand))
            length = None if kind.endswith("end") else max(3, int(rng.uniform(0.1, 1.0) * rate))
            a = int(rng.integers(5, max(6, F - (length or F // 3) - 5)))
            b = F if length is None else min(F, a + length)
            pts = pts0.copy()
            v = rng.normal(size=3)
            v *= rng.uniform(0.1, 0.3) * scale / np.linalg.norm(v)
            if kind.startswith("offset"):
                pts[:3, i, a:b] += v[:, None]
                if kind.endswith("gaps"):  # out of sight for 0.1 s on each side: no jump marks the stretch
                    hide = max(2, int(0.1 * rate))
                    for lo, hi in ((max(0, a - hide), a), (b, min(F, b + hide))):
                        pts[:3, i, lo:hi], pts[3, i, lo:hi] = np.nan, -1
            elif kind.startswith("frozen"):
                pts[:3, i, a:b] = pts[:3, i, a:a + 1] + v[:, None]
            else:
                far = np.nanmedian(np.linalg.norm(pts0[:3, :, None, ::10] - pts0[:3, None, :, ::10], axis=0), axis=-1)[i]
                others = [j for j in np.flatnonzero(far > 0.15 * scale) if j in cand]
                j = int(rng.choice(others))
                pts[:, i, a:b] = pts0[:, j, a:b]
            c = open_c3d(path)
            if "meta_points" in c["data"]:
                del c["data"]["meta_points"]
            c["data"]["points"] = pts
            c.write(str(tmp / "trial.c3d"))
            take = io.read(tmp / "trial.c3d")
            bad = np.nan_to_num(np.linalg.norm(take.positions - ref.positions, axis=-1)) > 0.03
            row[0] += 1
            row[1] += int(said(take))
            row[2] += int(bad.any())
            row[3] += int(bad.sum())
        out[kind] = row
    return out


def false_alarms(paths: list[Path]) -> list[tuple[str, list[int]]]:
    rows = []
    for path in paths:
        try:
            take = io.read(path)
        except InputError:
            continue
        back = take.writeback
        _, xyz, seen = io.marker_trajectories(path, subject=back.subject)
        cells = []
        for k in (1, 2, 4, 8):
            poses, mask = back.skeleton_map.apply(back.names, xyz[::k], seen[::k])
            held, _ = left_the_body(path, back.skeleton_map, back.names, poses, mask, xyz[::k], seen[::k])
            cells.append(int(held.sum()))
        rows.append((path.name, cells))
    return rows


def main() -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    print(header(sys.argv[1:], torch.device("cpu"), script="bench/offbody.py"))
    takes = [p for p in TAKES if p.exists()]
    print("Real takes: " + ", ".join(p.name for p in takes) + f"; {PER_TAKE} trials of each kind per take.\n")
    print("| marker off the body | trials | said and held | a joint still read 30 mm+ off | those joint samples |")
    print("|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    total = {k: [0, 0, 0, 0] for k in KINDS}
    skipped = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in takes:
            try:
                rows = trials(path, rng, Path(tmp))
            except (ValueError, InputError) as e:  # ezc3d cannot write the take back as a readable C3D
                skipped.append(f"{path.name} ({str(e).strip()[:80]})")
                continue
            for kind, row in rows.items():
                total[kind] = [x + y for x, y in zip(total[kind], row)]
    for kind, (n, held, bad, samples) in total.items():
        print(f"| {kind} | {n} | {held} | {bad} | {samples} |")
    if skipped:
        print("\nNot rewritable by ezc3d, left out: " + "; ".join(skipped))
    print("\nMarker samples held on the clean takes (every C3D of the fixtures and the vendors' set the reader opens), "
          "at 1/1, 1/2, 1/4, 1/8 of the rate; takes with none held are not listed:\n")
    print("| take | " + " | ".join(f"1/{k}" for k in (1, 2, 4, 8)) + " |")
    print("|---|---:|---:|---:|---:|")
    rows = false_alarms(sorted(VENDORS.glob("*.c3d")) + sorted(FIXTURES.glob("*.c3d")))
    for name, cells in rows:
        if any(cells):
            print(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    print(f"\n{len(rows)} clean takes looked at; {sum(1 for _, c in rows if not any(c))} with no sample held at any rate.")
    print(f"\n{time.perf_counter() - t0:.0f} s in all.")


if __name__ == "__main__":
    main()
