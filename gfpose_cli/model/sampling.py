"""Samplers for the reverse subVP process, each a short function over (eps_fn, sde, x).

`eps_fn(x, t)` returns the predicted noise for a batch x at times t (B,); the score is
-eps/sigma_t. Every sampler starts from a given x at t_start (1 for generation, t0 < 1 for
denoising), takes a torch.Generator for its randomness, and returns the clean sample.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gfpose_cli.model.sde import SubVPSDE

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]



def _times(x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)


def pc_sampler(eps_fn: EpsFn, sde: SubVPSDE, x: torch.Tensor, steps: int = 1000, t_start: float = 1.0,
               snr: float = 0.16, corrector_steps: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Predictor-Corrector (Song et al. 2021): Langevin corrector, then reverse-diffusion predictor.

    2 NFE per step with one corrector step. The last predictor step returns its mean (no noise).
    """
    timesteps = torch.linspace(t_start, sde.eps, steps, dtype=torch.float64)
    dt = (t_start - sde.eps) / max(steps - 1, 1)
    x_mean = x
    for i in range(steps):
        t = _times(x, float(timesteps[i]))
        sigma = sde.sigma(t)[:, None]
        # Langevin corrector. Song et al. set the step from |noise| / |score| per sample, which
        # in 51 dimensions explodes for samples near a mode (small |score|) and inflates the
        # variance (the Gaussian harness shows +40 %). The marginal's precision is bounded by
        # 1 / sigma_t^2, so step = 2 (snr sigma_t)^2 is the same rule's noise-dominated value
        # and is stable at every t.
        step = 2.0 * (snr * sigma) ** 2
        for _ in range(corrector_steps):
            grad = -eps_fn(x, t) / sigma
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + step * grad + torch.sqrt(2.0 * step) * noise
        score = -eps_fn(x, t) / sigma
        f, g = sde.discretize(x, t, dt)
        x_mean = x - (f - g[:, None] ** 2 * score)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x_mean + g[:, None] * noise
    return x_mean


def ode_euler_sampler(eps_fn: EpsFn, sde: SubVPSDE, x: torch.Tensor, steps: int = 100, t_start: float = 1.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Plain Euler on the probability-flow ODE: a simple deterministic reference (1 NFE per step)."""
    timesteps = torch.linspace(t_start, sde.eps, steps + 1, dtype=torch.float64)
    for i in range(steps):
        t = _times(x, float(timesteps[i]))
        dt = float(timesteps[i + 1] - timesteps[i])
        drift, _ = sde.reverse(x, t, -eps_fn(x, t) / sde.sigma(t)[:, None], probability_flow=True)
        x = x + drift * dt
    return x


def lambda_of_t(sde: SubVPSDE, t: torch.Tensor) -> torch.Tensor:
    """Half log-SNR: lambda = log alpha_t - log sigma_t."""
    return sde.log_mean_coeff(t) - torch.log(sde.sigma(t))


def t_of_lambda(sde: SubVPSDE, lam: torch.Tensor) -> torch.Tensor:
    """Inverse of lambda_of_t in closed form (alpha solves e^lam (1 - a^2) = a)."""
    e = torch.exp(lam)
    alpha = (torch.sqrt(1 + 4 * e**2) - 1) / (2 * e)
    lmc = torch.log(alpha)
    d_beta = sde.beta_max - sde.beta_min
    return (-0.5 * sde.beta_min + torch.sqrt(0.25 * sde.beta_min**2 - d_beta * lmc)) / (0.5 * d_beta)


def dpm_solver_2m(eps_fn: EpsFn, sde: SubVPSDE, x: torch.Tensor, steps: int = 25, t_start: float = 1.0,
                  generator: torch.Generator | None = None, lower_order_final: bool = True) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) on the subVP probability-flow ODE, uniform in log-SNR.

    Exponential integrator in lambda with data prediction x0 = (x - sigma eps) / alpha and a
    multistep second-order correction; 1 NFE per step, deterministic.
    """
    ts, lams, alphas, sigmas = _log_snr_schedule(sde, steps, t_start)
    x0_prev, h_prev = None, None
    for i in range(steps):
        x0 = _data_prediction(eps_fn, x, float(ts[i]), float(alphas[i]), float(sigmas[i]))
        h = float(lams[i + 1] - lams[i])
        if x0_prev is None or (lower_order_final and i == steps - 1 and steps < 15):
            d = x0
        else:
            r = h_prev / h
            d = (1 + 0.5 / r) * x0 - (0.5 / r) * x0_prev
        x = float(sigmas[i + 1] / sigmas[i]) * x - float(alphas[i + 1]) * math.expm1(-h) * d
        x0_prev, h_prev = x0, h
    return x


def _data_prediction(eps_fn: EpsFn, x: torch.Tensor, t: float, alpha: float, sigma: float) -> torch.Tensor:
    """x0 = (x - sigma eps) / alpha: the exponential integrators work on the predicted clean pose."""
    return (x - sigma * eps_fn(x, _times(x, t))) / alpha


def _log_snr_schedule(sde: SubVPSDE, steps: int, t_start: float) -> tuple[torch.Tensor, ...]:
    """Times uniform in lambda from t_start to eps, with their lambda, alpha and sigma."""
    t0 = torch.tensor([t_start, sde.eps], dtype=torch.float64)
    lam = lambda_of_t(sde, t0)
    lams = torch.linspace(float(lam[0]), float(lam[1]), steps + 1, dtype=torch.float64)
    ts = t_of_lambda(sde, lams)
    ts[0], ts[-1] = t_start, sde.eps
    return ts, lams, sde.alpha(ts), sde.sigma(ts)


def sde_dpm_solver_2m(eps_fn: EpsFn, sde: SubVPSDE, x: torch.Tensor, steps: int = 25, t_start: float = 1.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """SDE-DPM-Solver++(2M) (Lu et al. 2022): the stochastic twin of dpm2m, 1 NFE per step.

    x_t = (sigma_t/sigma_s) e^-h x_s + alpha_t (1 - e^-2h) D + sigma_t sqrt(1 - e^-2h) z, with D
    the multistep data prediction. Fresh noise each step forgives score errors the way PC does.
    """
    ts, lams, alphas, sigmas = _log_snr_schedule(sde, steps, t_start)
    x0_prev, h_prev = None, None
    for i in range(steps):
        x0 = _data_prediction(eps_fn, x, float(ts[i]), float(alphas[i]), float(sigmas[i]))
        h = float(lams[i + 1] - lams[i])
        d = x0 if x0_prev is None else x0 + (0.5 * h / h_prev) * (x0 - x0_prev)
        decay = math.exp(-h)
        x = float(sigmas[i + 1] / sigmas[i]) * decay * x - float(alphas[i + 1]) * math.expm1(-2 * h) * d
        if i < steps - 1:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + float(sigmas[i + 1]) * math.sqrt(-math.expm1(-2 * h)) * noise
        x0_prev, h_prev = x0, h
    return x


@dataclass(frozen=True)
class Sampler:
    """One entry of the sampler registry: the function and what a caller needs to know about it."""

    name: str
    fn: Callable[..., torch.Tensor]  # (eps_fn, sde, x, steps, t_start, generator=) -> x0
    default_steps: int
    nfe_per_step: int  # network evaluations per step
    #: adds fresh noise at every step, so forgets the starting noise's scale (lifted joints move
    #: 0.015 mm in the median between scale 0.2 and 1): tasks refuses a temperature for it
    stochastic: bool
    summary: str


#: The sampler registry: add a sampler here (a function over (eps_fn, sde, x)) and every command takes it.
REGISTRY: dict[str, Sampler] = {s.name: s for s in (
    Sampler("dpm2m", dpm_solver_2m, 25, 1, False, "DPM-Solver++(2M) on the probability-flow ODE (the default)"),
    Sampler("sde-dpm2m", sde_dpm_solver_2m, 50, 1, True, "SDE-DPM-Solver++(2M), its stochastic twin"),
    Sampler("pc", pc_sampler, 1000, 2, True, "the paper's predictor-corrector sampler"),
    Sampler("ode-euler", ode_euler_sampler, 100, 1, False, "plain Euler on the probability-flow ODE"),
)}
SAMPLERS = tuple(REGISTRY)


def sampler_named(name: str) -> Sampler:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}") from None


def sample(eps_fn: EpsFn, sde: SubVPSDE, x: torch.Tensor, sampler: str = "dpm2m", steps: int | None = None,
           t_start: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Run the named sampler (REGISTRY); steps defaults per sampler."""
    spec = sampler_named(sampler)
    return spec.fn(eps_fn, sde, x, steps or spec.default_steps, t_start, generator=generator)
