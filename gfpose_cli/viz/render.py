"""Draw takes as stick figures over time (GIF, MP4 or a PNG filmstrip), side by side for before/after.

A table says a take got better; a picture shows a technician where and how. Uses matplotlib
(optional: `pip install gfpose[render]`), imported only here so the rest of the CLI never pays for it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import InputError
from gfpose_cli.util.atomic import atomic_path
from gfpose_cli.core.frames import CAMERA_TO_Z_UP
from gfpose_cli.core.skeleton import BONES, JOINTS
from gfpose_cli.core.take import Take

FORMATS = ("gif", "mp4", "png")


def _colour(child: int) -> str:
    name = JOINTS[child]
    return "tab:red" if name.startswith("R") else "tab:blue" if name.startswith("L") else "0.3"


def _title(label: str, seconds: float) -> str:
    short = label if len(label) <= 26 else label[:12] + "..." + label[-11:]
    return f"{short}\n{seconds:.2f} s"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("render needs matplotlib: pip install 'gfpose[render]'") from None
    return plt


def frame_indices(take: Take, fps: float, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """Frames of the take to draw at about fps frames per second between start_s and end_s."""
    first = int(round(start_s * take.fps))
    last = take.n_frames if end_s is None else min(take.n_frames, int(round(end_s * take.fps)))
    if first >= last:
        raise InputError(f"{take.path}: nothing to draw between {start_s:g} s and "
                         f"{end_s if end_s is not None else take.n_frames / take.fps:g} s")
    step = max(1, int(round(take.fps / fps)))
    return np.arange(first, last, step)


def render(takes: list[tuple[str, Take]], output: Path, fps: float = 30.0, start_s: float = 0.0,
           end_s: float | None = None, panels: int = 6, markers: list[np.ndarray | None] | None = None,
           progress: Callable[[int, int], None] | None = None, force: bool = True) -> int:
    """Draw one or more takes side by side (same frame numbers); returns the frames drawn.

    3D takes are drawn Z up with equal axes fixed over the take; 2D keypoints in image pixels
    (y down). Right limbs red, left blue. .png gives a filmstrip of `panels` frames per take.
    """
    kind = output.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise InputError(f"{output}: render writes .gif, .mp4 or .png")
    plt = _pyplot()
    n_frames = min(t.n_frames for _, t in takes)
    base = takes[0][1]
    idx = frame_indices(Take(positions=base.positions[:n_frames], fps=base.fps, provenance=base.provenance), fps, start_s, end_s)
    # a lift's output is in the camera's frame (y down): drawn upright like mocap
    poses = [np.asarray(t.positions[:n_frames], np.float64) @ (CAMERA_TO_Z_UP.T if t.provenance.camera_frame else np.eye(3))
             if t.dim == 3 else np.asarray(t.positions[:n_frames], np.float64) for _, t in takes]
    poses = [p.mean(1) if p.ndim == 4 else p for p in poses]  # hypotheses: draw their mean
    dim = poses[0].shape[-1]
    if any(p.shape[-1] != dim for p in poses):
        raise InputError("render {compare} needs two 3D takes or two 2D takes")
    marker_sets = markers or [None] * len(takes)
    every = np.concatenate([p[idx].reshape(-1, dim) for p in poses])
    every = every[np.isfinite(every).all(1)]
    if not len(every):
        raise InputError(f"{base.path}: no joint is present in the frames to draw")
    lo, hi = every.min(0), every.max(0)
    centre, half = (lo + hi) / 2, max((hi - lo).max() / 2, 0.5 if dim == 3 else 50.0)
    if dim == 3:  # the view follows the performer across the floor; height stays fixed
        rel = np.concatenate([(p[idx] - p[idx, :1])[..., :2].reshape(-1, 2) for p in poses])
        half = max(float(np.nanmax(np.abs(rel))) if np.isfinite(rel).any() else 0.0, (hi[2] - lo[2]) / 2, 0.5) * 1.05
        follow = np.nan_to_num(np.nanmean(np.stack([p[:, 0, :2] for p in poses]), axis=0))

    def setup(ax, title: str, frame: int = 0) -> None:
        ax.set_title(title, fontsize=9)
        if dim == 3:
            cx, cy = follow[frame]
            ax.set_xlim(cx - half, cx + half)
            ax.set_ylim(cy - half, cy + half)
            ax.set_zlim(centre[2] - half, centre[2] + half)
            ax.set_box_aspect((1, 1, 1))
            ax.view_init(elev=15, azim=-60)
            ax.set_xticklabels([]), ax.set_yticklabels([]), ax.set_zticklabels([])
        else:
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] + half, centre[1] - half)
            ax.set_aspect("equal")

    def draw(ax, pose: np.ndarray, extra: np.ndarray | None) -> None:
        for p, c in BONES:
            a, b = pose[p], pose[c]
            if np.isfinite(a).all() and np.isfinite(b).all():
                ax.plot(*zip(a, b), color=_colour(c), lw=2)
        if extra is not None:
            ok = np.isfinite(extra).all(1)
            ax.scatter(*extra[ok].T, s=4, color="0.5")

    proj = {"projection": "3d"} if dim == 3 else {}
    with atomic_path(output, force) as tmp:
        if kind == "png":
            pick = idx[np.linspace(0, len(idx) - 1, min(panels, len(idx))).round().astype(int)]
            fig, axes = plt.subplots(len(takes), len(pick), figsize=(2.4 * len(pick), 2.6 * len(takes)),
                                     subplot_kw=proj, squeeze=False)
            for r, ((label, take), pose, extra) in enumerate(zip(takes, poses, marker_sets)):
                for c, f in enumerate(pick):
                    setup(axes[r, c], _title(label, f / take.fps), f)
                    draw(axes[r, c], pose[f], None if extra is None else extra[f])
            fig.tight_layout()
            fig.savefig(tmp, format="png", dpi=90)
            plt.close(fig)
            return len(pick)
        from matplotlib.animation import FFMpegWriter, PillowWriter

        if kind == "mp4" and not FFMpegWriter.isAvailable():
            raise InputError(f"{output}: MP4 needs ffmpeg on the PATH; write .gif instead")
        writer = PillowWriter(fps=fps) if kind == "gif" else FFMpegWriter(fps=fps)
        fig = plt.figure(figsize=(3.6 * len(takes), 3.8))
        axes = [fig.add_subplot(1, len(takes), i + 1, **proj) for i in range(len(takes))]
        with writer.saving(fig, str(tmp), dpi=80):
            for k, f in enumerate(idx):
                for ax, (label, take), pose, extra in zip(axes, takes, poses, marker_sets):
                    ax.cla()
                    setup(ax, _title(label, f / take.fps), f)
                    draw(ax, pose[f], None if extra is None else extra[f])
                writer.grab_frame()
                if progress:
                    progress(k + 1, len(idx))
        plt.close(fig)
    return len(idx)
