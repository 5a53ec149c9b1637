"""The subVP SDE and every sampler, checked against closed forms (no training involved).

For Gaussian data N(mu, Sigma) the subVP marginal at t is N(alpha_t mu, alpha_t^2 Sigma + sigma_t^2 I),
so the exact score is known. Driving a sampler with it must reproduce mu and Sigma; a sampler
or SDE with a wrong sign, scale or schedule does not.
"""
from __future__ import annotations

import pytest
import torch

from gfpose_cli.model import sampling
from gfpose_cli.model.sde import SubVPSDE

SDE = SubVPSDE()
D = 6


def gaussian_problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(D, generator=g, dtype=torch.float64)
    A = 0.5 * torch.randn(D, D, generator=g, dtype=torch.float64)
    return mu, A @ A.T + 0.1 * torch.eye(D, dtype=torch.float64)


def exact_eps(mu: torch.Tensor, cov: torch.Tensor, sde: SubVPSDE = SDE):
    """eps_fn for Gaussian data: eps = -sigma_t * score of the exact marginal."""
    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = sde.alpha(t)[:, None, None], sde.sigma(t)[:, None, None]
        C = a**2 * cov + s**2 * torch.eye(D, dtype=x.dtype)
        score = -torch.linalg.solve(C, (x - sde.alpha(t)[:, None] * mu)[..., None])[..., 0]
        return -s[:, :, 0] * score
    return eps_fn


def moments_error(samples: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> tuple[float, float]:
    """Max |mean error| and relative Frobenius error of the covariance."""
    return float((samples.mean(0) - mu).abs().max()), float(torch.linalg.norm(torch.cov(samples.T) - cov) / torch.linalg.norm(cov))


def run_sampler(name: str, steps: int, eps_fn, n: int = 6000, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = SDE.prior_sampling((n, D), g).double()
    return sampling.sample(eps_fn, SDE, x, name, steps, generator=g)


# (sampler, steps): each sampler at the step count we rely on; PC at 300 keeps the test quick
# (its error at 1000 is smaller still).
CASES = [("dpm2m", 25), ("sde-dpm2m", 50), ("pc", 300), ("ode-euler", 100)]
MEAN_TOL, COV_TOL = 0.08, 0.08  # sampling error of 6000 draws is about 0.03 / 0.03


@pytest.mark.parametrize("name,steps", CASES)
def test_sampler_reproduces_gaussian_data(name: str, steps: int) -> None:
    mu, cov = gaussian_problem()
    mean_err, cov_err = moments_error(run_sampler(name, steps, exact_eps(mu, cov)), mu, cov)
    assert mean_err < MEAN_TOL and cov_err < COV_TOL, (mean_err, cov_err)


@pytest.mark.parametrize("name,steps", CASES)
def test_harness_rejects_a_wrong_score(name: str, steps: int) -> None:
    """The same check fails when the sampler is driven by the score of other data."""
    mu, cov = gaussian_problem()
    wrong = exact_eps(mu, 2.0 * cov)
    mean_err, cov_err = moments_error(run_sampler(name, steps, wrong), mu, cov)
    assert cov_err > COV_TOL


def test_broken_sde_is_caught() -> None:
    """A sampler with a mis-scaled SDE (beta_max 10 instead of 20) fails the harness."""
    mu, cov = gaussian_problem()
    broken = SubVPSDE(beta_max=10.0)
    g = torch.Generator().manual_seed(1)
    x = broken.prior_sampling((6000, D), g).double()
    out = sampling.pc_sampler(exact_eps(mu, cov), broken, x, 300, generator=g)
    mean_err, cov_err = moments_error(out, mu, cov)
    assert mean_err > MEAN_TOL or cov_err > COV_TOL


def test_marginals_match_monte_carlo_of_the_forward_sde() -> None:
    """Euler-Maruyama simulation of dx = f dt + g dW from x0 matches marginal_prob at t = 0.5."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 2), 1.5, dtype=torch.float64)
    x, steps, t_end = x0.clone(), 2000, 0.5
    dt = t_end / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt, dtype=torch.float64)
        f, gd = SDE.discretize(x, t, dt)
        x = x + f + gd[:, None] * torch.randn(x.shape, generator=g, dtype=torch.float64)
    mean, std = SDE.marginal_prob(x0, torch.full((1,), t_end, dtype=torch.float64))
    assert torch.allclose(x.mean(0), mean[0], atol=0.02)
    assert torch.allclose(x.std(0), std.expand(2), atol=0.02)


def test_prior_is_standard_normal_at_t1() -> None:
    t = torch.tensor([1.0], dtype=torch.float64)
    assert float(SDE.alpha(t)) < 0.01 and abs(float(SDE.sigma(t)) - 1) < 1e-3


def test_log_snr_inverse_and_noise_time() -> None:
    t = torch.linspace(SDE.eps, 1.0, 50, dtype=torch.float64)
    back = sampling.t_of_lambda(SDE, sampling.lambda_of_t(SDE, t))
    assert torch.allclose(back, t, atol=1e-8)


def test_pc_sampler_is_deterministic_per_seed() -> None:
    mu, cov = gaussian_problem()
    a = run_sampler("pc", 20, exact_eps(mu, cov), n=50, seed=7)
    b = run_sampler("pc", 20, exact_eps(mu, cov), n=50, seed=7)
    c = run_sampler("pc", 20, exact_eps(mu, cov), n=50, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_fast_sampler_temperature_defaults_per_task_and_yields_to_the_user() -> None:
    from gfpose_cli.tasks import Runner, SamplerOptions

    # the defaults the README documents (bench/results/nfe.md chose lift's and complete's,
    # bench/results/synthetic.md generate's)
    for task, expected in {"prior": 0.9, "lift": 0.6, "complete3d": 0.5}.items():
        assert Runner.for_task(task, None, SamplerOptions()).temperature == expected
        assert Runner.for_task(task, None, SamplerOptions(temperature=1.0)).temperature == 1.0
        assert Runner.for_task(task, None, SamplerOptions(sampler="pc", steps=2)).temperature == 1.0
        assert Runner.for_task(task, None, SamplerOptions(sampler="sde-dpm2m", steps=2)).temperature == 1.0
    # a lower temperature draws poses nearer the typical ones: less spread, same seed
    import numpy as np

    spread = {}
    for t in (0.5, 1.0):
        runner = Runner.for_task("prior", None, SamplerOptions(temperature=t, steps=10))
        poses = runner.sample_rows(300)
        spread[t] = float(np.linalg.norm(poses - poses.mean(0), axis=-1).mean())
    assert spread[0.5] < 0.9 * spread[1.0]


@pytest.mark.parametrize("name,steps", [("sde-dpm2m", 50), ("pc", 100)])
def test_stochastic_samplers_forget_their_start_so_temperature_is_refused(name: str, steps: int) -> None:
    """Why --temperature is an error with pc / sde-dpm2m: their output does not depend on the start's scale."""
    from gfpose_cli.core.errors import InputError
    from gfpose_cli.tasks import SamplerOptions

    mu, cov = gaussian_problem()
    eps_fn = exact_eps(mu, cov)
    z = torch.randn(500, mu.shape[0], generator=torch.Generator().manual_seed(3))

    def from_scale(sampler: str, n: int, scale: float) -> torch.Tensor:
        return sampling.sample(eps_fn, SDE, z * scale, sampler, n, generator=torch.Generator().manual_seed(4))

    spread = float(from_scale(name, steps, 1.0).std())
    assert float((from_scale(name, steps, 0.3) - from_scale(name, steps, 1.0)).abs().max()) < 0.05 * spread
    # the ODE, by contrast, maps each start to its own sample
    assert float((from_scale("dpm2m", 25, 0.3) - from_scale("dpm2m", 25, 1.0)).abs().max()) > 0.5 * spread
    with pytest.raises(InputError, match="forgets its start"):
        SamplerOptions(sampler=name, temperature=0.5)


def test_t0_for_noise_starts_where_the_sde_noise_matches_the_pose_noise() -> None:
    """tasks.t0_for_noise: the per-frame denoiser's start time for a measured noise level. At t0 the
    noise the SDE adds to the encoded pose, sigma / alpha in the encoder's units, is factor times
    the pose's own noise in those units (noise / the encoder's median spread)."""
    from gfpose_cli.tasks import Runner, SamplerOptions, t0_for_noise

    runner = Runner.for_task("prior", None, SamplerOptions())
    spread = float(runner.model.normaliser.std[1:].median())
    sde = runner.sde
    last = 0.0
    for noise_m in (0.005, 0.02, 0.05):
        for factor in (1.0, 2.0):
            t0 = t0_for_noise(runner, noise_m, factor)
            t = torch.tensor(t0, dtype=torch.float64)
            ratio = float(sde.sigma(t) / sde.alpha(t))
            assert abs(ratio - factor * noise_m / spread) < 1e-4 * max(1.0, ratio)
        assert t0 > last  # more noise, a later start
        last = t0
    assert t0_for_noise(runner, 1e-9) == sde.eps and t0_for_noise(runner, 100.0) == 1.0  # clipped to (eps, 1]


def test_bf16_sampling_is_reproducible_and_draws_the_poses_fp32_draws() -> None:
    """--precision: bf16 autocast of the network only (the solver stays fp32). Same seed, same poses
    on a device; against fp32 the same seeds give nearly the same poses (the ODE's sensitivity
    moves a few of them further), and the set statistics stay within the issue-25 guard
    (bench/results/precision.md measures 20,000 poses)."""
    import numpy as np

    from gfpose_cli.core.errors import ParameterError
    from gfpose_cli.tasks import Runner, SamplerOptions, generate, native_bf16

    with pytest.raises(ParameterError, match="precision"):
        SamplerOptions(precision="fp16")
    assert Runner.for_task("prior", None, SamplerOptions(precision="fp32")).bf16 is False
    auto = Runner.for_task("prior", None, SamplerOptions(precision="auto"))
    assert auto.bf16 == native_bf16(auto.device)
    draws = {p: generate(Runner.for_task("prior", None, SamplerOptions(seed=5, precision=p)), 512).positions
             for p in ("fp32", "bf16")}
    again = generate(Runner.for_task("prior", None, SamplerOptions(seed=5, precision="bf16")), 512).positions
    np.testing.assert_array_equal(again, draws["bf16"])
    per_pose = np.linalg.norm(draws["bf16"] - draws["fp32"], axis=-1).mean(1)
    assert np.median(per_pose) < 0.005 and np.percentile(per_pose, 90) < 0.02  # metres
    assert not np.array_equal(draws["bf16"], draws["fp32"])  # it did run in bf16


def test_compiled_network_draws_the_poses_the_eager_one_draws(tmp_path) -> None:
    """--compile builds the network with torch.compile before sampling: the same seeds give the same
    poses (fp32: to rounding), a seed reproduces them, and the CLI takes the flag."""
    import numpy as np

    from gfpose_cli.tasks import Runner, SamplerOptions, generate

    from .test_writeback import run

    eager = generate(Runner.for_task("prior", None, SamplerOptions(seed=3, precision="fp32", batch_size=256)), 300).positions
    compiled = generate(Runner.for_task("prior", None, SamplerOptions(seed=3, precision="fp32", batch_size=256,
                                                                      compile=True)), 300).positions
    assert np.abs(compiled - eager).max() < 1e-3  # metres
    assert run(["generate", "--n", "64", "--compile", "--precision", "fp32", "--batch-size", "64", "-o",
                str(tmp_path / "c.npz"), "-q"]) == 0
    assert np.isfinite(np.load(tmp_path / "c.npz")["poses"]).all()


def test_compile_that_cannot_build_is_refused_before_any_work(monkeypatch) -> None:
    """Where inductor cannot build (no C++ compiler), --compile fails at once with one sentence."""
    import pytest
    import torch

    from gfpose_cli.core.errors import ParameterError
    from gfpose_cli.tasks import Runner, SamplerOptions

    def broken(_module, **_options):
        def call(*_args, **_kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(ParameterError, match=r"torch.compile cannot build the network on this machine \(InvalidCxxCompiler"):
        Runner.for_task("prior", None, SamplerOptions(compile=True, batch_size=16))


def test_fixed_batch_pads_and_splits_without_changing_any_row() -> None:
    """tasks.FixedBatch (the --compile wrapper) calls the network at one batch size: a shorter batch
    padded, a longer one split; every row's output is the network's own for that row."""
    import torch

    from gfpose_cli.tasks import FixedBatch, Runner, SamplerOptions

    runner = Runner.for_task("lift", None, SamplerOptions(device="cpu", precision="fp32"))
    net = runner.model.network
    calls = []

    def counting(*args):
        calls.append(args[0].shape[0])
        return net(*args)

    wrapped = FixedBatch(counting, net.config, batch=8)
    gen = torch.Generator().manual_seed(0)
    for n in (3, 8, 19):
        x, t = torch.randn(n, 51, generator=gen), torch.rand(n, generator=gen)
        cond, mask = torch.randn(n, 17 * net.config.cond_dim, generator=gen), (torch.rand(n, 17, generator=gen) > 0.3).float()
        calls.clear()
        with torch.inference_mode():
            got, want = wrapped(x, t, cond, mask), net(x, t, cond, mask)
        assert calls == [8] * -(-n // 8)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_default_batch_follows_the_device() -> None:
    from gfpose_cli.tasks import Runner, SamplerOptions

    assert Runner.for_task("prior", None, SamplerOptions(device="cpu")).opts.batch_size == 4096
    assert Runner.for_task("prior", None, SamplerOptions(device="cpu", batch_size=100)).opts.batch_size == 100
