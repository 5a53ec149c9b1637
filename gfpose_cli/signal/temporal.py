"""Time along a take: noise level, smoothing, and the classical filters we are measured against.

The score model sees one frame at a time, so alone it jitters and cannot tell noise from motion.
Motion is smooth at mocap rates and noise is not, so a take is first smoothed with a Whittaker
smoother (penalised least squares on third differences; Eilers 2003) whose strength is chosen by
generalised cross-validation on the take itself (no cut-off to tune, any noise distribution).
On held-out CMU takes it beats a Butterworth filter whose cut-off was tuned on the answer
(bench/results/takes.md). Missing samples get zero weight, so the same solve bridges short gaps.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from scipy.interpolate import CubicSpline
from scipy.linalg import cho_solve_banded, cholesky_banded
from scipy.sparse.linalg import splu

ORDER = 3  # third differences: penalises change of acceleration, keeps steady motion untouched
#: variance of the ORDER-th difference of white noise, in units of the noise variance
_DIFF_GAIN = {1: 2.0, 2: 6.0, 3: 20.0, 4: 70.0}
_LAMBDAS = 10.0 ** np.arange(-2.0, 10.01, 0.25)


def noise_level(positions: np.ndarray, mask: np.ndarray | None = None, order: int = ORDER) -> float:
    """Robust standard deviation (per coordinate, file units) of frame-to-frame noise in a take
    (F, J, 3): the median absolute ORDER-th difference over observed runs, scaled for white noise.
    Smooth motion at mocap rates contributes little to third differences; noise dominates them."""
    if len(positions) <= order:
        return 0.0
    z = np.diff(positions, n=order, axis=0)
    if mask is not None:
        ok = np.ones(z.shape[:2], bool)
        for k in range(order + 1):
            ok &= mask[k : len(mask) - order + k]
        z = z[ok]
    z = z[np.isfinite(z)]
    if not z.size:
        return 0.0
    return float(np.median(np.abs(z)) / 0.6745 / np.sqrt(_DIFF_GAIN[order]))


def difference_matrix(n: int, order: int) -> sparse.csr_matrix:
    """Sparse (n - order, n) matrix of order-th differences along n frames; empty when n <= order."""
    if n <= order:
        return sparse.csr_matrix((0, n))
    D = sparse.eye(n, format="csr")
    for _ in range(order):
        D = D[1:] - D[:-1]
    return D


@lru_cache(maxsize=32)
def _penalty_bands(n: int, order: int) -> np.ndarray:
    """D'D of order-th differences along n frames in LAPACK's upper banded form ((order + 1, n); the
    main diagonal last), built once per take length."""
    D = difference_matrix(n, order)
    P = (D.T @ D).todia()
    bands = np.zeros((order + 1, n))
    for k in range(order + 1):
        diag = P.diagonal(k)
        bands[order - k, k:] = diag
    bands.setflags(write=False)
    return bands


class Whittaker:
    """Solver for min_x sum w (x - y)^2 + lam * |D^ORDER x|^2 over a take's frames, factorised once.

    The system is symmetric, positive definite and banded (bandwidth ORDER), so it is factorised
    by banded Cholesky (LAPACK pbtrf: O(n) per factorisation, about 5 times faster than a sparse LU
    on a 10,000-frame take); a system too ill-conditioned for it falls back to the sparse LU."""

    def __init__(self, n: int, lam: float, weights: np.ndarray | None = None, order: int = ORDER) -> None:
        order = min(order, n - 1)
        w = np.ones(n) if weights is None else weights.astype(float)
        self.weights = weights
        self.chol = self.lu = None
        if order >= 1:
            ab = lam * _penalty_bands(n, order)
            ab[-1] += w
            try:
                self.chol = cholesky_banded(ab, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                self.chol = None
        if self.chol is None:
            D = difference_matrix(n, order)
            self.lu = splu((sparse.diags(w) + lam * (D.T @ D)).tocsc())

    def __call__(self, y: np.ndarray) -> np.ndarray:
        w = np.ones(len(y)) if self.weights is None else self.weights
        return self.solve(np.nan_to_num(y.reshape(len(y), -1)) * w[:, None]).reshape(y.shape)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """The fit (n, k) for a right-hand side already weighted (weights times samples, 0 in gaps)."""
        if self.chol is not None:
            return cho_solve_banded((self.chol, False), rhs, check_finite=False)
        return self.lu.solve(rhs)


@lru_cache(maxsize=256)
def _impulse_response(lam: float, order: int = ORDER, half: int = 200) -> np.ndarray:
    """Weights (2 half + 1,) the smoother gives the samples around the middle of a long take (read-only:
    cached, as GCV asks for the same few strengths for every take)."""
    impulse = np.zeros(2 * half + 1)
    impulse[half] = 1.0
    out = Whittaker(len(impulse), lam, order=order)(impulse[:, None])[:, 0]
    out.setflags(write=False)
    return out


def noise_gain(lam: float, order: int = ORDER, half: int = 200) -> float:
    """Fraction of white-noise standard deviation a Whittaker smoother lets through (sqrt of the sum
    of squared weights of its impulse response in a long take)."""
    return float(np.sqrt((_impulse_response(lam, order, half) ** 2).sum()))


@dataclass
class Smoothed:
    positions: np.ndarray
    noise_m: float  # estimated input noise (per coordinate)
    lam: np.ndarray  # smoothing strength chosen per joint (J,)
    residual_noise_m: float  # noise expected to remain after smoothing (median over joints)
    outliers: int  # samples (joint x frame) ignored as spikes


#: a spike must also be at least this far off the fit: filtered studio data can measure almost
#: no noise, and a marker swap moves a marker by centimetres
MIN_SPIKE_M = 0.03


def smooth_take(positions: np.ndarray, mask: np.ndarray | None = None, noise_m: float | None = None,
                spike_sigmas: float = 5.0, weights: np.ndarray | None = None,
                min_spike: float = MIN_SPIKE_M, breaks: tuple[int, ...] | list[int] = ()) -> Smoothed:
    """Whittaker-smooth a take (F, J, D) at strengths chosen per joint by generalised cross-validation.

    GCV needs no cut-off and no noise model; the measured noise level only tells spikes apart:
    samples further than spike_sigmas noise levels from the first fit (marker swaps, flips) are
    dropped and the take is smoothed again, so one spike does not smear over its neighbours.
    Missing samples (mask False) are filled by the same fit. weights (F, J) in [0, 1] say how much
    each sample counts (a detector's confidence); min_spike is the smallest distance a spike is
    off the fit, in the take's units (metres by default; pass pixels for 2D keypoints). breaks are
    frames where the take starts anew (the whole body jumps: two takes joined): each stretch between
    them is smoothed alone, nothing is smoothed or filled across one.
    """
    F = len(positions)
    mask = np.isfinite(positions).all(-1) if mask is None else mask & np.isfinite(positions).all(-1)
    if weights is not None:
        mask = mask & (weights > 0)
    sigma = noise_level(positions, mask) if noise_m is None else float(noise_m)
    cuts = sorted({int(b) for b in breaks if 0 < int(b) < F})
    if cuts:
        out, parts = positions.astype(np.float64, copy=True), []
        for a, b in zip([0, *cuts], [*cuts, F]):
            part = smooth_take(positions[a:b], mask[a:b], sigma, spike_sigmas,
                               None if weights is None else weights[a:b], min_spike)
            out[a:b] = part.positions
            parts.append((b - a, part))
        longest = max(parts, key=lambda p: p[0])[1]
        return Smoothed(out, sigma, longest.lam, longest.residual_noise_m, sum(p.outliers for _, p in parts))
    if F < ORDER + 2 or sigma <= 0:
        return Smoothed(positions.copy(), sigma, np.zeros(positions.shape[1]), sigma, 0)
    weights = mask.astype(float) if weights is None else np.where(mask, np.clip(weights, 0.0, 1.0), 0.0)
    out, lam = positions, np.zeros(positions.shape[1])
    n_out = 0
    dims = positions.shape[-1]
    for _ in range(2):
        lam, fit = _gcv(positions, weights, sigma, min_spike)
        resid = np.linalg.norm(np.nan_to_num(fit - positions), axis=-1)
        spikes = (weights > 0) & (resid > max(spike_sigmas * sigma * np.sqrt(dims), min_spike))
        out = fit
        if not spikes.any():
            break
        n_out += int(spikes.sum())
        weights = np.where(spikes, 0.0, weights)
    gain_of = {float(v): noise_gain(float(v)) for v in np.unique(lam)}
    gains = [gain_of[float(v)] for v in lam]
    return Smoothed(out, sigma, lam, sigma * float(np.median(gains)), n_out)


def _gcv(y: np.ndarray, weights: np.ndarray, sigma: float,
         min_spike: float = MIN_SPIKE_M) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, the lambda minimising generalised cross-validation, weighted mean r^2 / (1 - tr(H)/n)^2,
    over its observed samples (those beyond 4 noise levels and min_spike left out, so spikes do
    not steer it).
    Per joint because a wrist moves faster than the pelvis: one strength for all over-smooths one
    or under-smooths the other. Returns the lambdas (J,) and the fit (F, J, 3)."""
    F, J = y.shape[:2]
    best_score = np.full(J, np.inf)
    best_lam = np.full(J, _LAMBDAS[0])
    best_fit = np.array(y, dtype=np.float64)  # joints with too few samples to fit are left as they are
    limit = max(4 * sigma, min_spike)
    for cols, w, rhs, y0, w3 in _joint_groups(y, weights):
        k = len(cols)
        for lam in _LAMBDAS:
            fit = Whittaker(F, lam, w).solve(rhs).reshape(F, k, -1)
            if lam == _LAMBDAS[0]:  # a joint no strength scores (every residual beyond the limit) keeps this fit
                best_here = fit.copy()
            denom = (1.0 - _centre_weight(lam, F)) ** 2
            r = fit - y0
            kept = np.where(np.abs(r) < limit, w3, 0.0)
            total = kept.sum((0, 2))
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(total > 0, (kept * r * r).sum((0, 2)) / total / denom, np.inf)
            better = score < best_score[cols]
            if better.any():
                idx = np.asarray(cols)[better]
                best_score[idx], best_lam[idx] = score[better], lam
                best_here[:, better] = fit[:, better]
        best_fit[:, cols] = best_here
    return best_lam, best_fit


def _joint_groups(y: np.ndarray, weights: np.ndarray):
    """The joints with enough samples to fit, grouped by their weights (every joint of a take seen
    throughout shares one factorisation and one solve): (columns, weights (F,), the system's right-hand
    side (F, k D), the samples with gaps as 0 (F, k, D), and each coordinate's weight (F, k, D))."""
    groups: dict[bytes, list[int]] = {}
    for j in range(y.shape[1]):
        if (weights[:, j] > 0).sum() > ORDER:
            groups.setdefault(weights[:, j].tobytes(), []).append(j)
    for cols in groups.values():
        w = weights[:, cols[0]].astype(float)
        y0 = np.nan_to_num(y[:, cols]) * (w > 0)[:, None, None]
        rhs = (y0 * w[:, None, None]).reshape(len(y), -1)
        w3 = np.broadcast_to(w[:, None, None], y0.shape)
        yield cols, w, rhs, y0, w3


def _centre_weight(lam: float, n: int) -> float:
    """tr(H)/n of the smoother: the weight a long take's middle sample gives itself."""
    half = max(1, min(200, n // 2))
    return float(_impulse_response(lam, half=half)[half])


# ---- the classical baselines of bench/takes.py (what a studio's software does today) ----

def butterworth(positions: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase low-pass Butterworth filter along frames (filtfilt, as Vicon Nexus and Motive)."""
    from scipy.signal import butter, filtfilt  # here: scipy.signal takes a second to import, and only the
    # baselines of bench/takes.py use it, not a command

    b, a = butter(order, min(cutoff_hz / (fps / 2), 0.99))
    return filtfilt(b, a, positions, axis=0, padlen=min(3 * max(len(a), len(b)), len(positions) - 1))


def savitzky_golay(positions: np.ndarray, window: int, polyorder: int = 3) -> np.ndarray:
    """Savitzky-Golay smoothing along frames; the window is made odd and no longer than the take."""
    from scipy.signal import savgol_filter

    window = min(window, len(positions))
    window -= 1 - window % 2
    return savgol_filter(positions, window, min(polyorder, window - 1), axis=0)


def spline_fill(positions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cubic-spline gap filling per joint from its observed frames (the Nexus/Shogun default)."""
    out = positions.astype(np.float64).copy()
    t = np.arange(len(positions))
    for j in range(positions.shape[1]):
        seen = mask[:, j]
        if seen.all() or seen.sum() < 2:
            continue
        out[~seen, j] = CubicSpline(t[seen], positions[seen, j], axis=0)(t[~seen])
    return out
