"""The sub-variance-preserving (subVP) SDE of Song et al. 2021, as used by GFPose.

dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dW, beta linear from
beta_min to beta_max. Marginal: x(t) | x0 ~ N(alpha_t x0, sigma_t^2 I) with
alpha_t = exp(-1/2 int beta) and sigma_t = 1 - alpha_t^2.
"""
from __future__ import annotations

import math

import torch


class SubVPSDE:
    """subVP SDE on t in [eps, 1]; all methods broadcast over a batch of times."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, eps: float = 1e-3) -> None:
        self.beta_min, self.beta_max, self.eps = beta_min, beta_max, eps
        self.T = 1.0

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def log_mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        """log alpha_t = -1/4 t^2 (b1 - b0) - 1/2 t b0."""
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_mean_coeff(t))

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(2.0 * self.log_mean_coeff(t))

    def marginal_prob(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of x(t) given x(0) = x0; t has shape (B,)."""
        return self.alpha(t)[:, None] * x0, self.sigma(t)

    def prior_sampling(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu") -> torch.Tensor:
        """x(1) ~ N(0, I) (the subVP marginal at t=1 is within 1e-4 of it)."""
        return torch.randn(shape, generator=generator, device=device)

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward drift f(x, t) and diffusion g(t)."""
        beta = self.beta(t)
        drift = -0.5 * beta[:, None] * x
        discount = 1.0 - torch.exp(-2 * self.beta_min * t - (self.beta_max - self.beta_min) * t**2)
        return drift, torch.sqrt(beta * discount)

    def reverse(self, x: torch.Tensor, t: torch.Tensor, score: torch.Tensor,
                probability_flow: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Reverse-time drift f - g^2 score (halved for the probability-flow ODE) and diffusion."""
        drift, g = self.sde(x, t)
        factor = 0.5 if probability_flow else 1.0
        return drift - factor * g[:, None] ** 2 * score, (torch.zeros_like(g) if probability_flow else g)

    def discretize(self, x: torch.Tensor, t: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Euler-Maruyama step of the forward SDE: (f dt, g sqrt(dt))."""
        drift, g = self.sde(x, t)
        return drift * dt, g * math.sqrt(dt)
