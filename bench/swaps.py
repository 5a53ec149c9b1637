"""Marker label swaps on real takes: how many are put right, and whether any frame is wrongly exchanged.

Real C3D takes of the fixtures and the vendors' set (tests/data/vendors), each with two body markers'
samples exchanged for a stretch drawn at random (seed 0): a left/right pair of one name (LKNE and RKNE)
to the take's end, from its start, or for a while (a swap and its way back); swapped as one of them came
back into view after an occlusion (a 40th of the take); swapped with a later occlusion of one inside the
swap; swapped after both were hidden (no jump tells the labels: expected said and held, not exchanged);
and any two body markers to the take's end (nothing tells which labelling is right: said and held, never
exchanged). Columns: trials; put right in every frame both markers are seen; trials with any frame
exchanged that was not swapped (a wrong output); trials where an exchange or a stretch was said and held. The clean takes, at their rate and
at 1/2, 1/4, 1/8 of it, are the false-alarm rows: no swap claimed, no exchange said.

    python bench/swaps.py > bench/results/swaps.md
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from speed import header  # noqa: E402  (bench/, beside this script)

from gfpose_cli import io  # noqa: E402
from gfpose_cli.core.errors import InputError  # noqa: E402
from gfpose_cli.io.maps import side_pairs  # noqa: E402
from gfpose_cli.signal.swaps import label_swaps, unswapped  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TAKES = [ROOT.parent / "shared" / "fixtures" / n for n in ("btk_gait.c3d", "cmu_85_02.c3d", "ktk_tennis_serve_nan.c3d")] + [
    ROOT / "tests" / "data" / "vendors" / n for n in ("btk__mocap36.c3d", "btk__PlugInC3D.c3d", "ammr__2014001_C1_01.c3d",
                                                      "btk__561xxa01_anonym.c3d", "pycgm__Movement_trial.c3d")]
KINDS = ("left/right to the end", "left/right from the start", "left/right and back",
         "left/right after one was hidden, to the end", "left/right to the end, through a gap",
         "left/right after both were hidden, to the end", "any two to the end")
PER_TAKE = 12


def main() -> None:
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    print(header(sys.argv[1:], torch.device("cpu"), script="bench/swaps.py"))
    print(f"{len(TAKES)} real takes: " + ", ".join(p.name for p in TAKES) + f"; {PER_TAKE} swaps of each kind per take.\n")
    print("| swap | trials | put right | any frame wrongly exchanged | said and held |")
    print("|---|---:|---:|---:|---:|")
    totals = {k: [0, 0, 0, 0] for k in KINDS}
    alarms = []
    for path in TAKES:
        names, xyz, seen = io.marker_trajectories(path)
        body = np.array(["\x00" not in n for n in names])
        pairs = [p for p in side_pairs(names) if body[p[0]] and body[p[1]]]
        F = len(xyz)
        for step in (1, 2, 4, 8):
            found = label_swaps(xyz[::step], seen[::step], body, pairs=pairs)
            alarms.append((path.name, step, len(found.swaps), len(found.untold) + len(found.held_spans)))
        for kind in KINDS:
            for _ in range(PER_TAKE):
                if kind.startswith("any"):
                    a, b = (int(c) for c in rng.choice(np.flatnonzero(body), 2, replace=False))
                else:
                    a, b = pairs[rng.integers(len(pairs))]
                start = int(rng.integers(F // 5, 4 * F // 5))
                stop = F
                if kind.endswith("and back"):
                    stop = int(rng.integers(start + 3, min(F, start + F // 3)))
                elif kind.endswith("start"):
                    start, stop = 0, start
                x, s = xyz.copy(), seen.copy()
                x[start:stop, [a, b]] = x[start:stop, [b, a]]
                s[start:stop, [a, b]] = s[start:stop, [b, a]]
                hide = max(2, F // 40)  # an occlusion of about a 40th of the take
                if "one was hidden" in kind:  # the labeller swapped them as one came back into view
                    s[start - hide:start, a] = False
                elif "both were hidden" in kind:
                    s[start - hide:start, [a, b]] = False
                elif "through a gap" in kind:
                    mid = (start + F) // 2
                    s[mid:mid + hide, a] = False
                x[~s] = np.nan
                found = label_swaps(x, s, body, pairs=pairs)
                swapped, claimed = np.zeros(F, bool), np.zeros(F, bool)
                swapped[start:stop] = True
                for w in found.swaps:
                    claimed[w.start:w.stop] = True
                both = s[:, a] & s[:, b]
                t = totals[kind]
                t[0] += 1
                t[1] += not (swapped & both & ~claimed).any()
                t[2] += bool((claimed & ~swapped).any())
                t[3] += bool(found.untold or found.held_spans)
    for kind, (n, right, wrong, said) in totals.items():
        print(f"| {kind} | {n} | {right} | {wrong} | {said} |")
    print("\nFalse alarms on the clean takes (swaps claimed, exchanges or spans said and held), at 1/1, 1/2, 1/4, 1/8 of the rate:\n")
    print("| take | " + " | ".join(f"1/{k}" for k in (1, 2, 4, 8)) + " |")
    print("|---|---:|---:|---:|---:|")
    by_take: dict[str, list[str]] = {}
    for name, step, n_swaps, n_said in alarms:
        by_take.setdefault(name, []).append(f"{n_swaps}, {n_said}")
    for name, cells in by_take.items():
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nA whole leg's labels swapped at once (every left/right pair of thigh, knee, tibia, ankle, heel and toe\n"
          "markers), for the middle third of the take and from a third to its end: samples the file holds on the\n"
          "wrong marker, samples still read on the wrong marker after the swaps found are put right (held ones are\n"
          "not read), samples held.\n")
    print("| take | swap | on the wrong marker in the file | read on the wrong marker | held |")
    print("|---|---|---:|---:|---:|")
    for path in TAKES:
        names, xyz, seen = io.marker_trajectories(path)
        body = np.array(["\x00" not in n for n in names])
        pairs = [p for p in side_pairs(names) if body[p[0]] and body[p[1]]]
        leg = [(a, b) for a, b in pairs if names[a].rsplit(":", 1)[-1][1:] in ("THI", "KNE", "TIB", "ANK", "HEE", "TOE")]
        if len(leg) < 3:
            continue
        F = len(xyz)
        for kind, (start, stop) in (("middle third", (F // 3, 2 * F // 3)), ("a third to the end", (F // 3, F))):
            x, s = xyz.copy(), seen.copy()
            for a, b in leg:
                x[start:stop, [a, b]] = x[start:stop, [b, a]]
                s[start:stop, [a, b]] = s[start:stop, [b, a]]
            found = label_swaps(x, s, body, pairs=pairs)
            fixed, _ = unswapped(x, found.swaps)
            held = found.held(s.shape)
            off = lambda y: np.linalg.norm(np.nan_to_num(y - xyz), axis=-1) > 0.001  # noqa: E731
            print(f"| {path.name} | {kind} | {int((s & seen & off(x)).sum())} | {int((s & seen & ~held & off(fixed)).sum())} "
                  f"| {int((s & held).sum())} |")
    print(f"\n{time.perf_counter() - t0:.0f} s in all.")


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"bench/swaps.py: {e}")
