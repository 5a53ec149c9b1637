"""Every real vendor file (tests/data/vendors, from ../shared/fixtures/vendors) through `gfpose
convert`, and each body capture through `denoise` and `complete`: what came out, with the body's
figures or the refusal's sentence. Writes markdown headed with the command, commit, weights and
device (commit it as bench/results/vendors.md).

    python bench/vendors.py > bench/results/vendors.md
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gfpose_cli import io  # noqa: E402
from gfpose_cli.io.c3d import load, point_kinds  # noqa: E402
from gfpose_cli.io.sanity import body_report  # noqa: E402

VENDORS = ROOT / "tests" / "data" / "vendors"


def gfpose(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "gfpose_cli", *args], capture_output=True, text=True)
    return proc.returncode, " ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace(str(VENDORS) + "/", "")


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    weights = hashlib.sha256((ROOT / "weights" / "prior.pt").read_bytes()).hexdigest()[:16]
    print(f"Command: `python bench/vendors.py` · commit {commit} · weights prior.pt sha256 {weights}… · "
          f"device CPU ({platform.machine()}, {platform.system()})\n")
    print("| file | `gfpose convert FILE -o out.npz` | height (m) | femur R/L (mm) | tibia R/L (mm) | "
          "upper arm R/L (mm) | refusal / note |")
    print("|---|---|---|---|---|---|---|")
    t0 = time.perf_counter()
    body_c3d = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted(p for p in VENDORS.iterdir() if p.suffix.lower() in (".c3d", ".bvh")):
            out = Path(tmp) / f"{src.stem}.npz"
            code, err = gfpose("convert", str(src), "-o", str(out), "-q")
            if code == 0:
                take = io.read(out)
                r = body_report(take.positions.astype(np.float64), take.mask)
                mm = {k: ("-" if v is None else f"{v * 1000:.0f}") for k, v in r["lengths"].items()}
                joints = int(take.mask.any(0).sum())
                height = "-" if r["height"] is None else f"{r['height']:.2f}"
                print(f"| {src.name} | converts (exit 0), {joints} of 17 joints, {take.mask[:, take.mask.any(0)].mean():.0%} "
                      f"of their samples seen | {height} | {mm['right femur']}/{mm['left femur']} | {mm['right tibia']}/{mm['left tibia']} | "
                      f"{mm['right upper arm']}/{mm['left upper arm']} | {cell(err) or '-'} |")
                if src.suffix.lower() == ".c3d":
                    body_c3d.append(src)
            else:
                print(f"| {src.name} | refused (exit {code}) | | | | | {cell(err)[:400]} |")
        print("\nWrite-back on the body captures (`gfpose denoise|complete FILE -o out.c3d`): points that are "
              "not body markers compared byte for byte, invalid input samples, largest move of a valid sample.\n")
        print("| file | task | exit | moved / filled samples | non-marker points bit-identical | "
              "invalid samples still invalid (denoise) | largest move (mm) | storage kept |")
        print("|---|---|---|---|---|---|---|---|")
        for src in body_c3d:
            for task in ("denoise", "complete"):
                out = Path(tmp) / f"{src.stem}.{task}.c3d"
                code, err = gfpose(task, str(src), "-o", str(out), "-q")
                a, b = load(src), load(out)
                kinds = point_kinds(a.labels, a.params)
                wa, wb = a.raw._point_words(), b.raw._point_words()
                other = [i for i, k in enumerate(kinds) if k != "marker"]
                same = all(np.array_equal(wa[:, i], wb[:, i]) for i in other)
                both = a.observed & b.observed
                move = np.linalg.norm(np.where(both[..., None], b.xyz - a.xyz, 0.0), axis=-1).max()
                g = b.params["GFPOSE"]
                moved, filled = int(sum(g["MOVED_COUNTS"])), int(sum(g["FILLED_COUNTS"]))
                kept = (a.raw.proc, a.raw.is_float, a.raw.scale) == (b.raw.proc, b.raw.is_float, b.raw.scale)
                print(f"| {src.name} | {task} | {code} | {moved} / {filled} | {same} ({len(other)} points) | "
                      f"{not (b.observed & ~a.observed).any() if task == 'denoise' else '-'} | {move:.1f} | "
                      f"{kept} ({a.raw.proc} {'float' if a.raw.is_float else 'integer'}) |")
    print(f"\n{time.perf_counter() - t0:.0f} s on CPU")


if __name__ == "__main__":
    main()
