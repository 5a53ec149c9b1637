"""Time `gfpose denoise` and `gfpose complete` of a long marker C3D written back into its own file, the way
a studio runs them on a whole session's take.

The take is the real Vicon Plug-in Gait trial of tests/data/vendors (pycgm__Movement_trial.c3d: 39 body
markers, 120 Hz), played forward and backward until it lasts `--minutes` (10 by default: 72,000 frames),
so the motion stays continuous at every joint; `complete` gets a 1-second gap in five markers every 30 s.
A last row denoises the trial as Nexus wrote it, all 239 of its points (the body markers, Plug-in Gait's
bone points and model outputs, unlabelled trajectories), which a studio's file holds. Each command runs in
a fresh process, as from a shell (its import time counted); peak memory is that process's maximum resident
set. Writes the table to stdout (and -o FILE).

    python bench/writeback_speed.py > bench/results/writeback-speed.md
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import header  # noqa: E402  (bench/, beside this script)

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRIAL = ROOT / "tests" / "data" / "vendors" / "pycgm__Movement_trial.c3d"
#: the trial's Plug-in Gait body markers (not its bone points, model outputs or unlabelled trajectories)
BODY = ("LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN", "RBAK", "LSHO", "LUPA", "LELB", "LFRM", "LWRA",
        "LWRB", "LFIN", "RSHO", "RUPA", "RELB", "RFRM", "RWRA", "RWRB", "RFIN", "LASI", "RASI", "LPSI", "RPSI", "LTHI",
        "LKNE", "LTIB", "LANK", "LHEE", "LTOE", "RTHI", "RKNE", "RTIB", "RANK", "RHEE", "RTOE")
GAP_MARKERS = ("LKNE", "RANK", "LWRA", "RELB", "T10")


def long_take(path: Path, minutes: float, gaps: bool, every_point: bool = False) -> tuple[int, int]:
    """Write the long C3D (the body markers, or every_point of the trial); returns (frames, points)."""
    import ezc3d

    c = ezc3d.c3d(str(TRIAL))
    labels = [str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]]
    rate = float(c["parameters"]["POINT"]["RATE"]["value"][0])
    names = labels if every_point else list(BODY)
    keep = [labels.index(n) for n in names]
    seg = np.asarray(c["data"]["points"])[:, keep]
    frames = int(round(minutes * 60 * rate))
    parts, n, k = [], 0, 0
    while n < frames:  # forward, backward, forward ...: no jump where one copy meets the next
        piece = (seg if k % 2 == 0 else seg[:, :, ::-1])[:, :, :-1]
        parts.append(piece)
        n += piece.shape[2]
        k += 1
    points = np.concatenate(parts, 2)[:, :, :frames].copy()
    if gaps:
        for start in range(int(5 * rate), frames - int(rate), int(30 * rate)):
            for name in GAP_MARKERS:
                points[:3, names.index(name), start:start + int(rate)] = np.nan
    out = ezc3d.c3d()
    out["parameters"]["POINT"]["RATE"]["value"] = [rate]
    out["parameters"]["POINT"]["LABELS"]["value"] = names
    out["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    out["data"]["points"] = points
    out.write(str(path))
    return frames, len(names)


def timed(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of one gfpose command in a fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gfpose_cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak, not the largest child's so far
    secs = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"gfpose {' '.join(argv)} failed: {err.strip()[-400:]}")
    return secs, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()
    lines = [header(sys.argv[1:], torch.device("cpu"), script="bench/writeback_speed.py"), ""]
    lines.append(f"A {args.minutes:g}-minute take: the real Plug-in Gait trial (tests/data/vendors/"
                 "pycgm__Movement_trial.c3d, 39 body markers, 120 Hz) played forward and backward; `complete` with a "
                 f"1 s gap in {len(GAP_MARKERS)} markers every 30 s; the last row, the trial as Nexus wrote it with all "
                 "its points (bone points, model outputs, unlabelled trajectories). Each command in a fresh process "
                 "(imports counted); peak memory is that process's largest resident set.")
    lines += ["", "| command | frames | points | seconds | peak memory (MB) |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (task, gaps, every) in enumerate((("denoise", False, False), ("complete", True, False),
                                                 ("denoise", False, True))):
            src = Path(tmp) / f"{k}-{task}-in.c3d"
            frames, markers = long_take(src, args.minutes, gaps, every)
            secs, peak = timed([task, str(src), "-o", str(Path(tmp) / f"{k}-{task}-out.c3d"), "-q"])
            lines.append(f"| `gfpose {task} take.c3d -o out.c3d` | {frames:,} | {markers} | {secs:.1f} | {peak:.0f} |")
            print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
