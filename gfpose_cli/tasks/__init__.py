"""lift / complete / denoise / generate on Takes: build condition and mask, batch, sample, decode.

Nothing here knows about files; the CLI reads Takes with gfpose_cli.io and writes the results.
Every function takes a seed; batches are chunks of (frames x hypotheses) rows so memory is
bounded by batch_size, not by the take length.
"""
from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gfpose_cli.signal import gapfill
from gfpose_cli.kinematics.bones import (PERFORMER_SCALE_RANGE, fit_lengths, fit_to_performer, hold_lengths,
                                        lengths_through_noise,
                                        performer_lengths, scale_to_height)
from gfpose_cli.core.errors import InputError, ParameterError
from gfpose_cli.util.journal import ChunkJournal
from gfpose_cli.util.provenance import file_digest
from gfpose_cli.kinematics.bones import bone_length_cv
from gfpose_cli.model.checkpoint import LoadedModel, load_model
from gfpose_cli.model.problem import encode_condition, length_features
from gfpose_cli.model.sampling import REGISTRY, SAMPLERS, sample, t_of_lambda
from gfpose_cli.model.sde import SubVPSDE
from gfpose_cli.model.refiner import LoadedRefiner, load_refiner, refine as refine_take
from gfpose_cli.core.frames import CAMERA_TO_Z_UP
from gfpose_cli.core.skeleton import JOINTS, L_HIP, N_JOINTS, R_HIP, ROOT
from gfpose_cli.kinematics.placement import Placement, place
from gfpose_cli.core.take import aggregate  # noqa: F401 - tasks.aggregate; with the Take, so torch-free convert has it
from gfpose_cli.core.take import (CompleteReport, DenoiseReport, GenerateReport, LiftReport, Provenance, ShardPlace,
                                  Take)
from gfpose_cli.signal.offbody import take_breaks
from gfpose_cli.signal.temporal import noise_level, smooth_take

_PACKAGE = Path(__file__).resolve().parents[1]  # gfpose_cli/
WEIGHTS_DIR = _PACKAGE.parent / "weights"  # the checkout's weights/
ProgressFn = Callable[[int, int], None]  # (rows done, rows total)
RowSink = Callable[[np.ndarray, int], None]  # (a finished chunk's rows (k, 17, 3), rows total)


def shipped_weights(task: str) -> Path:
    """Path of a shipped checkpoint: $GFPOSE_WEIGHTS, the installed package's weights/, or the checkout's."""
    import os

    candidates = []
    if os.environ.get("GFPOSE_WEIGHTS"):
        candidates.append(Path(os.environ["GFPOSE_WEIGHTS"]))
    candidates += [_PACKAGE / "weights", WEIGHTS_DIR]  # installed package, then the checkout
    for folder in candidates:
        path = folder / f"{task}.pt"
        if path.exists():
            return path
    raise InputError(f"no shipped '{task}' weights found (looked in {', '.join(map(str, candidates))}); pass {{weights}}")


def lift_runner(weights: Path | None, opts: "SamplerOptions", lengths: np.ndarray | None = None) -> "Runner":
    """The lifter of `lift` and 2D `complete`: weights, else the shipped one. With the performer's bone
    lengths known (--skeleton) and no weights given, the shipped length-conditioned lifter
    (weights/lift-bones.pt: it reads them, MODEL_CARD.md), where it is installed, frame by frame and on
    takes, where its own take refiner (weights/refine-bones.pt, take_refiner) follows it."""
    if weights is None and lengths is not None:
        try:
            weights = shipped_weights("lift-bones")
        except InputError:
            pass
    return Runner.for_task("lift", weights, opts)


def prior_runner(weights: Path | None, opts: "SamplerOptions", *, bones: bool = False) -> "Runner":
    """The pose prior: weights, else the shipped one. With bones (denoise; generate for a given
    performer) and no weights given, the shipped prior that reads the performer's bone lengths
    (weights/prior-bones.pt), where it is installed: it denoises unseen bodies' poses better with or
    without their lengths, while generate keeps prior.pt, whose unconditional set is the closer
    to the real one (MODEL_CARD.md "Stage 10")."""
    if weights is None and bones:
        try:
            weights = shipped_weights("prior-bones")
        except InputError:
            pass
    return Runner.for_task("prior", weights, opts)


def resolve_device(name: str = "auto") -> torch.device:
    """auto picks CUDA, then MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", "cuda: no CUDA device is available")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (where autocast to bf16 is a speed-up, not an emulation)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


@dataclass
class SamplerOptions:
    sampler: str = "dpm2m"
    steps: int | None = None
    #: rows per network batch; None: DEFAULT_BATCH for the device the Runner resolves
    batch_size: int | None = None
    seed: int = 0
    device: str = "auto"
    temperature: float | None = None  # scale of the initial noise; None: the task's default (DEFAULT_TEMPERATURE)
    #: the network's arithmetic while sampling: "fp32", "bf16" (autocast), or "auto": bf16 where the
    #: device computes it natively (a CPU with AVX-512 BF16 / AMX, a GPU with bf16), else fp32
    precision: str = "auto"
    #: whether steps came from the caller (a student model's own step count applies only when not)
    steps_given: bool | None = None
    #: run the network through torch.compile (a one-off build of a few seconds; pays on long jobs:
    #: bench/results/compile.md)
    compile: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ParameterError("precision", f"{self.precision!r} is unknown; choose from {', '.join(PRECISIONS)}")
        if self.sampler not in SAMPLERS:
            raise ParameterError("sampler", f"{self.sampler!r} is unknown; choose from {', '.join(SAMPLERS)}")
        if self.steps is not None and self.steps < 1:
            raise ParameterError("steps", "must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise ParameterError("batch_size", "must be at least 1")
        if self.temperature is not None and not 0.0 < self.temperature <= 2.0:
            raise ParameterError("temperature", f"must be in (0, 2], got {self.temperature}")
        if self.temperature is not None and REGISTRY[self.sampler].stochastic:
            raise ParameterError("temperature", "scales the starting noise of the ODE samplers (dpm2m, ode-euler); "
                                 f"{self.sampler} adds fresh noise at every step and forgets its start, so it would "
                                 "have no effect: leave {temperature} out or pick {sampler} dpm2m")
        self.steps_given = self.steps is not None and self.steps_given is not False
        self.steps = self.steps or REGISTRY[self.sampler].default_steps


#: solver steps unconditional `generate` takes when none are given, per sampler. dpm2m's 15 hold issue
#: 25's quality guard at N = 177,200 (set statistics within 2.8 % of 25 steps', inside the 3.3 % two
#: seeds of 25 steps differ by; the Table 8 ratio: bench/results/synthetic.md) in 0.6x the time.
#: Every other task (lift, complete, denoise) keeps the sampler's default.
GENERATE_STEPS = {"dpm2m": 15}


def generate_options(opts: SamplerOptions) -> SamplerOptions:
    """opts for unconditional generation: GENERATE_STEPS where the caller gave no steps."""
    if opts.steps_given or opts.sampler not in GENERATE_STEPS:
        return opts
    return replace(opts, steps=GENERATE_STEPS[opts.sampler], steps_given=False)


def chunk_seed(seed: int, chunk: int) -> int:
    """Independent, reproducible seed for one chunk of rows."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{chunk}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


#: Starting-noise scale of the fast samplers per task, unless --temperature says otherwise. The
#: paper's PC sampler (1000 Langevin-corrected steps) draws sharper poses than the probability-flow
#: ODE from the same network; scaling the ODE's starting noise matches PC-1000's accuracy at 25
#: NFE for lift and complete (bench/results/nfe.md). generate's sets are for training other models,
#: and what counts there is how well a lifter learns from them (the paper's Table 8, bench/synthetic.py):
#: at 177,200 poses 0.8 trains a lifter 7.6 % worse than real poses (its sets are a quarter less
#: varied than the data), 0.9 1.4 % and 1.0 0.0 %; 0.9 keeps the bone-length spread and the share of
#: joint-limit breaks nearest the real data's (bench/results/synthetic.md). The stochastic samplers keep 1.
DEFAULT_TEMPERATURE = {"prior": 0.9, "lift": 0.6, "complete3d": 0.5}


#: torch.compile mode per device type for --compile (None: inductor's default). On an H200, CUDA graphs
#: ("reduce-overhead") drew the most poses per second; "max-autotune-no-cudagraphs" no more after a
#: 50 s build (bench/results/speed.md).
COMPILE_MODE: dict[str, str | None] = {"cpu": None, "cuda": "reduce-overhead"}
#: Rows per network batch when the caller names none. On a CUDA GPU a large batch is what fills it (H200,
#: bf16, dpm2m-25: 0.43 M poses/s at 80,000-131,072 rows, 0.32-0.39 M at 262,144; an H100 in fp32 gave
#: 0.14 M at 4,096), about 2.5 GB of device memory; on the CPU 4,096 is as fast as any and keeps memory small.
DEFAULT_BATCH = {"cuda": 131072}


class FixedBatch(torch.nn.Module):
    """A compiled network called at one batch size only: a shorter batch is padded with zeros and cut
    back, a longer one split, so torch.compile builds one graph for the whole job. Rows are independent
    (the network has no batch-wide operation), so padding changes no row's output. copy_out clones the
    outputs, which a CUDA-graph build would overwrite at its next call."""

    def __init__(self, compiled: torch.nn.Module, config, batch: int, copy_out: bool = False) -> None:
        super().__init__()
        self.compiled, self.config, self.batch, self.copy_out = compiled, config, batch, copy_out

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        outs = []
        for start in range(0, x.shape[0], self.batch):
            stop = min(start + self.batch, x.shape[0])
            pad = self.batch - (stop - start)
            parts = [a if a is None else a[start:stop] for a in (x, t, cond, mask)]
            if pad:
                parts = [a if a is None else torch.cat([a, a.new_zeros((pad, *a.shape[1:]))]) for a in parts]
            out = self.compiled(*parts)[: stop - start]
            outs.append(out.clone() if self.copy_out else out)
        return outs[0] if len(outs) == 1 else torch.cat(outs)


class Runner:
    """A loaded model plus sampler settings; samples x for rows of conditions in chunks."""

    def __init__(self, model: LoadedModel, opts: SamplerOptions) -> None:
        student = model.meta.get("distill")
        if student:  # a few-step student (training.distill): its solver, steps and starting temperature
            if opts.sampler != student["sampler"]:
                raise ParameterError("sampler", f"{model.path.name} is a {student['student_steps']}-step student of "
                                     f"{Path(student['teacher']).name}, trained for the {student['sampler']} solver; "
                                     f"sample it with {{sampler}} {student['sampler']} or use the teacher")
            if not opts.steps_given:
                opts = replace(opts, steps=int(student["student_steps"]))
        self.device = resolve_device(opts.device)
        if opts.batch_size is None:
            opts = replace(opts, batch_size=DEFAULT_BATCH.get(self.device.type, 4096))
        self.model, self.opts = model, opts
        #: the performer's bone lengths (16, metres) a length-conditioned lifter is given (with_lengths)
        self.lengths: np.ndarray | None = None
        self.temperature = opts.temperature if opts.temperature is not None else (
            float(student["temperature"]) if student else
            1.0 if REGISTRY[opts.sampler].stochastic else DEFAULT_TEMPERATURE.get(model.task, 1.0))
        self.model.network.to(self.device)
        self.sde = SubVPSDE()
        self.bf16 = opts.precision == "bf16" or (opts.precision == "auto" and native_bf16(self.device))
        if self.bf16 and self.device.type not in ("cpu", "cuda"):
            raise ParameterError("precision", f"bf16 runs on the CPU or a CUDA GPU, not {self.device.type}")
        if opts.compile:
            self._compile()

    def _compile(self) -> None:
        """Swap the network for its torch.compile build, built now on one batch of the job's size so
        that a machine where it cannot be built says so before any work, not half-way. The build is
        called at that one batch size only (FixedBatch), so a job's last, shorter chunk costs no second
        build; the mode per device is COMPILE_MODE's."""
        net = self.model.network
        mode = COMPILE_MODE.get(self.device.type)
        compiled = FixedBatch(torch.compile(net, mode=mode, dynamic=False), net.config, self.opts.batch_size,
                              copy_out=mode in ("reduce-overhead", "max-autotune"))
        width = N_JOINTS * net.config.pose_dim
        x = torch.zeros(self.opts.batch_size, width, device=self.device)
        t = torch.full((self.opts.batch_size,), 0.5, device=self.device)
        cond = mask = None
        if net.config.cond_dim or net.config.length_dim:  # the condition as sample_rows gives it: lengths last
            cond = torch.zeros(self.opts.batch_size, N_JOINTS * net.config.cond_dim + net.config.length_dim,
                               device=self.device)
        if net.config.cond_dim:
            mask = torch.ones(self.opts.batch_size, N_JOINTS, device=self.device)
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                compiled(x, t, cond, mask)
        except Exception as exc:  # inductor needs a C++ compiler (or Triton on a GPU); without one, say so
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise ParameterError("compile", f"torch.compile cannot build the network on this machine ({first}); "
                                 "leave out {compile}") from None
        self.model.network = compiled

    @classmethod
    def for_task(cls, task: str, weights: Path | None, opts: SamplerOptions) -> "Runner":
        return cls(load_model(weights or shipped_weights(task), task), opts)

    @property
    def takes_lengths(self) -> bool:
        """Whether the network reads a performer's bone lengths (a length-conditioned lifter)."""
        return bool(self.model.network.config.length_dim)

    @property
    def reads_no_lengths(self) -> bool:
        """Whether a length-conditioned network also learnt to lift without lengths (some of its
        training rows had none: train --lengths below 1)."""
        return float(self.model.meta.get("train_config", {}).get("lengths", 0.0)) < 1.0

    def with_lengths(self, lengths: np.ndarray | None) -> "Runner":
        """This runner (same model and settings) giving a length-conditioned network the performer's
        bone lengths (16,; NaN for a bone not known) in every row; a network without that input
        ignores them."""
        other = copy.copy(self)
        other.lengths = None if lengths is None else np.asarray(lengths, np.float64).reshape(-1)
        return other

    def same_start(self, k: int) -> torch.Tensor:
        """k starting noises (k, 51) at the task's temperature, seeded once: given to every frame of
        a take (hypothesis i starts from row i everywhere), so the deterministic samplers map
        consecutive frames to consecutive answers."""
        g = torch.Generator(device=self.device).manual_seed(chunk_seed(self.opts.seed, 0))
        return self.sde.prior_sampling((k, N_JOINTS * 3), g, self.device).cpu() * self.temperature

    @torch.inference_mode()
    def sample_rows(self, n_rows: int, cond_raw: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                    x_init: torch.Tensor | None = None, t_start: float = 1.0,
                    progress: ProgressFn | None = None, chunk_rows: int | None = None,
                    first_chunk: int = 0, journal: ChunkJournal | None = None,
                    sink: RowSink | None = None) -> np.ndarray:
        """Sample n_rows poses (metres, (n_rows, 17, 3)); cond/mask/x_init are per row.

        Chunk c of chunk_rows rows draws its noise from chunk_seed(seed, first_chunk + c), so a
        shard that starts at chunk first_chunk reproduces those rows of a single-process run,
        and a journal can keep finished chunks for a resumed run. sink(rows, n_rows) is handed
        each finished chunk's rows, in order, as they are done (io.npz.PoseStream writes them while
        the next chunk samples).
        """
        net, norm, task = self.model.network, self.model.normaliser, self.model.task
        out = np.empty((n_rows, N_JOINTS, 3), dtype=np.float32)
        bs = chunk_rows or self.opts.batch_size
        lengths = None  # a length-conditioned network's features (1, length_dim): the performer's, or 'not given'
        if net.config.length_dim:
            if self.lengths is None and not self.reads_no_lengths:
                raise InputError(f"{self.model.path}: this network reads the performer's bone lengths and was "
                                 "never trained without them; give the performer's skeleton ({skeleton}), "
                                 f"or use the shipped {self.model.task}.pt")
            given = None if self.lengths is None else torch.from_numpy(self.lengths)
            lengths = length_features(given, torch.tensor(net.config.length_ref, device=self.device), 1)
        for c, start in enumerate(range(0, n_rows, bs)):
            stop = min(start + bs, n_rows)
            saved = journal.load(first_chunk + c, (stop - start, N_JOINTS, 3)) if journal else None
            if saved is not None:
                out[start:stop] = saved
                out[start:stop] -= out[start:stop, ROOT : ROOT + 1]
                if sink:
                    sink(out[start:stop], n_rows)
                if progress:
                    progress(stop, n_rows)
                continue
            gen = torch.Generator(device=self.device).manual_seed(chunk_seed(self.opts.seed, first_chunk + c))
            if x_init is None:
                x = self.sde.prior_sampling((stop - start, N_JOINTS * 3), gen, self.device) * self.temperature
            else:
                x = x_init[start:stop].to(self.device)
            cond = m = None
            if net.config.cond_dim:
                m = mask[start:stop].to(self.device).float()
                raw = cond_raw[start:stop].to(self.device)
                x_cond = norm.encode(raw) if task == "complete3d" else None
                cond = encode_condition(task, raw, x_cond, m, norm)
                if lengths is not None:
                    cond = torch.cat([cond, lengths.to(cond.dtype).expand(stop - start, -1)], dim=1)
            elif lengths is not None:  # a length-conditioned prior: the performer's lengths are its only input
                cond = lengths.expand(stop - start, -1)

            def eps_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                return net(xt, t, cond, m).float()

            # the network in bf16 where it pays (SamplerOptions.precision); the solver's own arithmetic
            # stays fp32. One autocast region for the whole chunk keeps the weights' bf16 copies
            # cached across the solver's steps instead of casting them at every evaluation.
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                x = sample(eps_fn, self.sde, x, self.opts.sampler, self.opts.steps, t_start, gen)
            x = x.float()
            out[start:stop] = norm.decode(x).cpu().numpy()
            if journal:
                journal.save(first_chunk + c, out[start:stop])
            out[start:stop] -= out[start:stop, ROOT : ROOT + 1]
            if sink:
                sink(out[start:stop], n_rows)
            if progress:
                progress(stop, n_rows)
        return out


Shard = tuple[int, int]  # (k, n): the k-th of n parts, 0 <= k < n


def job_journal(runner: Runner, output: Path, job: dict, force: bool = False) -> ChunkJournal:
    """Resume state for a sampling job writing output: tied to the settings, weights and device
    type, since the same seed gives other numbers on another model or device."""
    opts = runner.opts
    settings = {**job, "sampler": opts.sampler, "steps": opts.steps, "batch_size": opts.batch_size,
                "seed": opts.seed, "temperature": runner.temperature, "device": runner.device.type, "weights": file_digest(runner.model.path),
                **({"compile": True} if opts.compile else {}),  # a compiled network rounds differently
                **({"lengths": [round(float(v), 6) for v in runner.lengths]} if runner.takes_lengths and runner.lengths is not None else {})}
    return ChunkJournal(output, settings, force)


def parse_shard(text: str | None) -> Shard | None:
    """'K/N' -> (K, N) with 0 <= K < N; None stays None."""
    if text is None:
        return None
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ParameterError("shard", f"{text!r}: expected K/N, e.g. 0/4 for the first of four parts") from None
    if n < 1 or not 0 <= k < n:
        raise ParameterError("shard", f"{text!r}: need 0 <= K < N")
    return k, n


def frames_per_chunk(runner: Runner, rows_per_frame: int) -> int:
    """Whole frames per network batch, so chunk boundaries (and their seeds) fall between frames."""
    return max(1, runner.opts.batch_size // rows_per_frame)


def shard_range(n_frames: int, per_chunk: int, shard: Shard | None) -> tuple[int, int]:
    """Frames [start, stop) of a shard: whole chunks, split as evenly as possible."""
    if shard is None:
        return 0, n_frames
    k, n = shard
    chunks = -(-n_frames // per_chunk)
    return min(n_frames, k * chunks // n * per_chunk), min(n_frames, (k + 1) * chunks // n * per_chunk)


def _sample_frames(runner: Runner, n_frames: int, rows_per_frame: int, shard: Shard | None,
                   progress: ProgressFn | None, per_frame: dict[str, np.ndarray | None],
                   t_start: float = 1.0, journal: ChunkJournal | None = None,
                   sink: RowSink | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Sample rows_per_frame poses for each frame of a (sharded) frame range: (F_k, S, 17, 3)."""
    per_chunk = frames_per_chunk(runner, rows_per_frame)
    start, stop = shard_range(n_frames, per_chunk, shard)
    rows = {k: None if v is None else torch.from_numpy(np.repeat(v[start:stop], rows_per_frame, axis=0))
            for k, v in per_frame.items()}
    out = runner.sample_rows((stop - start) * rows_per_frame, rows.get("cond"), rows.get("mask"), rows.get("x_init"),
                             t_start, progress, per_chunk * rows_per_frame, start // per_chunk, journal, sink)
    return out.reshape(stop - start, rows_per_frame, N_JOINTS, 3), (start, stop)


def shard_place(shard: Shard | None, frames: tuple[int, int], total: int) -> ShardPlace | None:
    """Where a shard's frames sit in the whole job (None for a job run whole)."""
    return ShardPlace(index=shard[0], count=shard[1], start=frames[0], stop=frames[1], total=total) if shard else None


def generate(runner: Runner, n: int, *, progress: ProgressFn | None = None, shard: Shard | None = None,
             journal: ChunkJournal | None = None, dedupe_m: float | None = None, max_draws: int = 20,
             sink: RowSink | None = None) -> Take:
    """n unconditional poses (canonical Z-up frame, root at the origin); a shard gives its part.

    With a journal, finished chunks are kept on disk and reused, so a killed run resumes. With
    dedupe_m, a pose within that P-MPJPE (metres) of an already kept one is dropped and sampling
    goes on (whole chunks, same seeds) until n are kept, giving up after max_draws * n draws.
    sink (Runner.sample_rows) is handed the poses chunk by chunk as they are made (not with dedupe_m).
    """
    if n < 1:
        raise ParameterError("n", "must be at least 1")
    if sink is not None and dedupe_m is not None:
        raise ParameterError("dedupe", "keeps or drops poses after they are made; it takes no row sink")
    if dedupe_m is None:
        poses, frames = _sample_frames(runner, n, 1, shard, progress, {}, journal=journal, sink=sink)
        return Take(positions=poses[:, 0], fps=30.0, report=GenerateReport(), shard=shard_place(shard, frames, n))
    if shard is not None:
        raise ParameterError("dedupe", "needs every pose in one job; it cannot be combined with {shard}")
    from gfpose_cli.kinematics.neighbours import novel

    bs = runner.opts.batch_size
    kept, drawn, chunk = np.empty((0, N_JOINTS, 3), np.float32), 0, 0
    while len(kept) < n:
        if drawn >= max_draws * n:
            raise ParameterError("dedupe", f"{dedupe_m * 1000:g} mm: only {len(kept)} distinct poses in {drawn} drawn; "
                                 "lower {dedupe} or {n}")
        batch = runner.sample_rows(bs, chunk_rows=bs, first_chunk=chunk, journal=journal)
        kept = np.concatenate([kept, batch[novel(batch, kept, dedupe_m)]])
        drawn, chunk = drawn + bs, chunk + 1
        if progress:
            progress(min(len(kept), n), n)
    return Take(positions=kept[:n], fps=30.0, report=GenerateReport(dedupe_mm=dedupe_m * 1000, drawn=drawn))


def generate_poses(runner: Runner, n: int, *, condition: Take | None = None, free: Sequence[int] = (),
                   dedupe_m: float | None = None, placement: Placement | None = None, seed: int = 0,
                   shard: Shard | None = None, journal: ChunkJournal | None = None,
                   progress: ProgressFn | None = None, sink: RowSink | None = None,
                   lengths: np.ndarray | None = None) -> Take:
    """What `gfpose generate` makes: n poses of the prior (generate), or around a take's partial
    poses with the joints in free resampled too (generate_around, held to the performer's bone
    lengths measured before they were freed), then placed in the world by placement. sink is handed
    the poses as they are made (generate's), only where they are the take's poses as they come: no
    condition, no placement, no dedupe_m (streams_poses).

    With lengths (16,; one performer's bone lengths, performer_skeleton) and no condition, every pose
    is that performer's: a prior that reads bone lengths (prior_runner(bones=True)) is given them,
    which brings its poses' proportions near (median bone 4-7 % off on unseen bodies, 14-18 %
    without them), and each pose is then fitted to them (fit_lengths, the pelvis where it is; the
    rest that 20 sweeps leave is taken down each chain by hold_lengths, so the lengths are exact)."""
    if sink is not None and not streams_poses(condition=condition, dedupe_m=dedupe_m, placement=placement):
        raise ParameterError("sink", "poses placed, deduplicated or made around a take are not final as they are sampled")
    if lengths is not None and condition is not None:
        raise ParameterError("skeleton", "a --condition take gives its own performer's bone lengths; leave out {skeleton}")
    if lengths is not None:
        held = np.asarray(lengths, np.float64).reshape(-1)
        moved = np.arange(N_JOINTS) != ROOT

        def fitted(rows: np.ndarray) -> np.ndarray:  # least change first, then exact down each chain
            return hold_lengths(fit_lengths(rows, held, fixed=(ROOT,)), held, moved).astype(np.float32)

        take = generate(runner.with_lengths(held), n, progress=progress, shard=shard, journal=journal, dedupe_m=dedupe_m,
                        sink=None if sink is None else (lambda rows, total: sink(fitted(rows), total)))
        take = replace(take, positions=fitted(take.positions))
    elif condition is not None:
        condition = z_up(condition)  # a lift's camera-frame take: its poses upright, as generate's are
        lengths = performer_lengths(condition.positions, condition.mask) if condition.positions.ndim == 3 else None
        if free and condition.positions.ndim == 3:
            mask, positions = condition.mask.copy(), condition.positions.copy()
            mask[:, list(free)] = False
            positions[:, list(free)] = np.nan
            condition = replace(condition, positions=positions, mask=mask)
        take = generate_around(runner, condition, n, progress=progress, shard=shard, journal=journal, lengths=lengths)
    else:
        take = generate(runner, n, progress=progress, shard=shard, journal=journal, dedupe_m=dedupe_m, sink=sink)
    if placement is not None and placement.active():
        take = replace(take, positions=place(take.positions, placement, seed, take.shard.start if take.shard else 0))
    return take


def streams_poses(*, condition: Take | None, dedupe_m: float | None, placement: Placement | None) -> bool:
    """Whether generate_poses's poses are final as each chunk is sampled (so a sink can write them then)."""
    return condition is None and dedupe_m is None and (placement is None or not placement.active())


def generate_around(runner: Runner, partial: Take, n: int, *, progress: ProgressFn | None = None,
                    shard: Shard | None = None, journal: ChunkJournal | None = None,
                    lengths: np.ndarray | None = None) -> Take:
    """n poses completing a take's partial poses (pose i from frame i mod F) with a completion
    model; root at the origin, like generate. Joints the take has stay as they are; sampled joints
    are held to the performer's bone lengths (16,) when given (bones.performer_lengths)."""
    if n < 1:
        raise ParameterError("n", "must be at least 1")
    if partial.dim != 3 or partial.positions.ndim != 3:
        raise InputError(f"{partial.path}: {{condition}} needs partial 3D poses (frames, 17, 3); "
                         "for 2D keypoints use gfpose lift {hypotheses} S")
    m = partial.mask
    unusable = ~completable_frames(m)
    if unusable.any():
        raise InputError(f"{partial.path}: frame {int(np.flatnonzero(unusable)[0])} has neither the pelvis nor "
                         "both hips plus another joint; nothing to generate around")
    idx = np.arange(n) % partial.n_frames
    tiled = Take(positions=partial.positions[idx], mask=m[idx], fps=30.0, provenance=Provenance(path=str(partial.path)))
    # a completion model that reads bone lengths is given the take's (before any joints were freed)
    # draws, not the point estimate: the poses around one frame must differ from each other
    out = complete(runner if lengths is None else runner.with_lengths(lengths), tiled, hypotheses=1, progress=progress,
                   shard=shard, journal=journal, temporal=False, draw=True)
    poses = out.positions
    if lengths is not None:
        a, b = (out.shard.start, out.shard.stop) if out.shard else (0, n)
        poses = hold_lengths(poses, lengths, ~tiled.mask[a:b])
    poses = poses - poses[:, ROOT : ROOT + 1]
    return Take(positions=poses, fps=30.0, report=GenerateReport(condition=str(partial.path), condition_frames=partial.n_frames),
                shard=out.shard)


def point_estimate(runner: Runner, hypotheses: int, draw: bool) -> bool:
    """Whether one hypothesis per frame is the sampler's point estimate: the deterministic solve from
    the prior's centre (zero starting noise) rather than a random draw. It is, unless the caller asks
    for a draw (draw, the paper's S=1 protocol) or sets a temperature (which only draws have). On the
    held-out bodies it is 5-15 % closer than a draw for lift (P1) and 2-22 % for completion
    (bench/results/accuracy.md, top section), about as close as the mean of 50 draws for one solve;
    the take lifter starts every frame from it for the same reason."""
    return hypotheses == 1 and not draw and runner.opts.temperature is None


def _centre_start(runner: Runner, n_frames: int, hypotheses: int, draw: bool) -> np.ndarray | None:
    """Per-frame starting noise for point_estimate (zeros), or None for the runner's seeded draws."""
    return np.zeros((n_frames, N_JOINTS * 3), np.float32) if point_estimate(runner, hypotheses, draw) else None


def _not_2d(take: Take) -> str:
    """Why a take is no input for lift: 3D poses (what a mocap file holds), or keypoints of another shape."""
    if take.positions.shape[-1] == 3:
        return (f"{take.path}: lift reads 2D keypoints, and this take is 3D already (denoise, complete and convert "
                "read it as it is)")
    return f"{take.path}: lift needs 2D keypoints (frames, 17, 2), got {take.positions.shape}"


def lift(runner: Runner, keypoints: Take, *, hypotheses: int = 1, progress: ProgressFn | None = None,
         shard: Shard | None = None, lengths: np.ndarray | None = None, height: float | None = None,
         draw: bool = False) -> Take:
    """S 3D hypotheses (F, S, 17, 3) per frame of 2D keypoints, root-relative in the camera frame.
    One hypothesis is the sampler's point estimate (point_estimate) unless draw; more are draws.
    With lengths (16,; a performer's bones, performer_skeleton), every pose is brought to them; with
    height (metres, the performer's standing height) instead, all poses are scaled by one factor to it."""
    _check_size_given(lengths, height)
    if keypoints.dim != 2 or keypoints.positions.ndim != 3:
        raise InputError(_not_2d(keypoints))
    usable = keypoints.mask.sum(1) >= 2
    if keypoints.n_frames == 0 or not usable.any():
        raise InputError(f"{keypoints.path}: no frame has 2 or more observed keypoints; nothing to lift")
    per_frame = {"cond": np.nan_to_num(keypoints.positions), "mask": keypoints.mask,
                 "x_init": _centre_start(runner, keypoints.n_frames, hypotheses, draw)}
    poses, (a, b) = _sample_frames(runner if lengths is None else runner.with_lengths(lengths), keypoints.n_frames, hypotheses, shard, progress, per_frame)
    poses[~usable[a:b]] = np.nan  # frames without a detection stay empty rather than invented
    scale = None
    if lengths is not None:
        flat, scale = _to_performer(poses.reshape(-1, N_JOINTS, 3), lengths, keypoints)
        poses = flat.reshape(poses.shape).astype(poses.dtype)
    elif height is not None:
        scaled, scale = _to_height(poses, height, keypoints)
        poses = scaled.astype(poses.dtype)
    mask = np.repeat(usable[a:b, None], N_JOINTS, axis=1)
    return Take(positions=poses, mask=mask, fps=keypoints.fps, provenance=_lifted_provenance(keypoints),
                report=LiftReport(input=str(keypoints.path or ""), performer_scale=scale),
                shard=shard_place(shard, (a, b), keypoints.n_frames))


#: a performer's skeleton must give at least this many of the 16 bones to size a lifted take by
MIN_PERFORMER_BONES = 8


def performer_skeleton(take: Take) -> np.ndarray:
    """The performer's bone lengths (16,) from a 3D take of them (a calibration or range-of-motion
    trial, any take: medians over frames, NaN for a bone the file does not give), for lift and
    complete from 2D. Refuses a 2D take and one that gives fewer than MIN_PERFORMER_BONES bones."""
    where = take.path or take.provenance.path or "the skeleton file"
    if take.dim != 3:
        raise InputError(f"{where}: a performer's skeleton must be 3D (BVH, ASF/AMC, C3D or a 3D NPZ/CSV), "
                         f"got {take.dim}D keypoints")
    pos = take.positions if take.positions.ndim == 3 else take.positions[:, 0]
    lengths = performer_lengths(pos, take.mask & np.isfinite(pos).all(-1))
    known = int(np.isfinite(lengths).sum())
    if known < MIN_PERFORMER_BONES:
        raise InputError(f"{where}: gives {known} of the 16 bones of the 17-joint skeleton, a side's bones "
                         f"standing in for the other's (needs {MIN_PERFORMER_BONES}); map more joints (--map) "
                         "or give another take of the performer")
    return lengths


def _to_performer(poses: np.ndarray, lengths: np.ndarray, keypoints: Take) -> tuple[np.ndarray, float]:
    """fit_to_performer with the check that the skeleton is this performer's, in these units."""
    out, k = fit_to_performer(poses, lengths, root=ROOT)
    lo, hi = PERFORMER_SCALE_RANGE
    if not lo <= k <= hi:
        raise InputError(f"{keypoints.path}: the performer's skeleton is {k:.2f} times the size of the body the "
                         f"2D shows (expected {lo}-{hi}); is it another performer, or in other units (--units)?")
    return out, k


def _check_size_given(lengths: np.ndarray | None, height: float | None) -> None:
    if lengths is not None and height is not None:
        raise ParameterError("height", "give the performer's skeleton or their height, not both: the skeleton "
                             "gives their size already")
    if height is not None and not (np.isfinite(height) and height > 0):
        raise ParameterError("height", f"must be a standing height in metres, got {height}")


def _to_height(poses: np.ndarray, height: float, keypoints: Take,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """scale_to_height (bone lengths over mask's joints) with the check that the height is a person's, in
    metres, and that the lifted poses give the ankle-to-head chain it is measured along."""
    out, k = scale_to_height(poses, height, root=ROOT, mask=mask)
    if not np.isfinite(k):
        raise InputError(f"{keypoints.path}: the lifted poses do not give the ankle-to-head chain a height is "
                         "measured along; give the performer's skeleton (--skeleton) instead")
    lo, hi = PERFORMER_SCALE_RANGE
    if not lo <= k <= hi:
        raise InputError(f"{keypoints.path}: a standing height of {height:g} m is {k:.2f} times the body the 2D was "
                         f"lifted to (expected {lo}-{hi}); give it in metres")
    return out, k


def _lifted_provenance(keypoints: Take) -> Provenance:
    """Where lifted 3D came from: the 2D file's path, format and map, in the camera frame."""
    return Provenance(path=keypoints.provenance.path, format=keypoints.provenance.format,
                      map=keypoints.provenance.map, camera_frame=True)


#: 2D takes: the whole person missing for up to this long is bridged along the take (in 3D)
MAX_GAP_S = 1.0

#: a 2D file is a collection of unrelated images when consecutive frames differ by at least this share
#: of what two frames picked at random differ by (held-out takes at 30 Hz: 0.02-0.2 with exact 2D,
#: up to 0.7 with 5 px noise; the same takes shuffled: 0.9-1.2) ...
UNRELATED_RATIO_2D = 0.8
#: ... and random pairs of its frames differ by more than this (in units of the 2D body size: pose,
#: place in the image and size together): a standing take under heavy detector noise also looks
#: unordered, but its frames are all one pose in one place, and lifting it along time is right
UNRELATED_SPREAD_2D = 0.2


def looks_like_2d_sequence(keypoints: Take) -> bool:
    """True when a 2D file's frames are one take (lifting along time makes sense), False for a
    collection of unrelated images: frames that differ (in pose, place in the image or size) as
    much from their neighbours as from frames picked at random (random pairs, not a fixed lag: a
    walk's frames a cycle apart look alike)."""
    p, m = keypoints.positions, keypoints.mask
    if keypoints.dim != 2 or p.ndim != 3 or len(p) < MIN_TAKE_FRAMES:
        return False
    q = np.where(m[..., None], p, np.nan).astype(np.float64)
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames with no keypoint: NaN, left out below
        centre = np.where(m[:, ROOT, None], q[:, ROOT], np.nanmean(q, 1))
        rel = q - centre[:, None]
        size = np.sqrt(np.nanmean((rel**2).sum(-1), 1))
        rel = rel / size[:, None, None]

        def median_step(a: np.ndarray, b: np.ndarray) -> float:
            pose = np.nanmean(np.linalg.norm(rel[a] - rel[b], axis=-1), 1)
            place = np.linalg.norm(centre[a] - centre[b], axis=-1) / (0.5 * (size[a] + size[b]))
            scale = np.abs(np.log(size[a] / size[b]))
            step = pose + place + scale
            step = step[np.isfinite(step)]
            return float(np.median(step)) if len(step) else np.nan

        idx = np.arange(len(rel))
        near = median_step(idx[1:], idx[:-1])
        far = median_step(idx, np.random.default_rng(0).permutation(len(rel)))
    if not (np.isfinite(near) and np.isfinite(far)):
        return False
    return not (near >= UNRELATED_RATIO_2D * far and far > UNRELATED_SPREAD_2D)


#: where the keypoints a frame is lifted from change (a keypoint's long gap starts or ends) every lifted
#: joint steps; the frames within EDGE_S of such a change count down to EDGE_TRUST in lift_take's 3D
#: smoothing, so the smoother carries the path across the step from the frames around it
EDGE_S, EDGE_TRUST = 0.1, 0.1


def _edge_trust(mask: np.ndarray, usable: np.ndarray, k: int) -> np.ndarray:
    """(F,) smoothing weight factor: EDGE_TRUST at the two frames of a change of the lifted keypoint set,
    rising linearly to 1 at k frames from it (EDGE_S)."""
    F = len(mask)
    out = np.ones(F)
    if k < 1 or F < 2:
        return out
    change = np.flatnonzero((mask[1:] != mask[:-1]).any(1) & usable[1:] & usable[:-1])
    if not len(change):
        return out
    ends = np.unique(np.concatenate([change, change + 1]))  # the frames either side of each change
    f = np.arange(F)
    i = np.clip(np.searchsorted(ends, f), 1, len(ends) - 1) if len(ends) > 1 else np.zeros(F, int)
    d = np.abs(f - ends[i]) if len(ends) == 1 else np.minimum(np.abs(f - ends[i - 1]), np.abs(f - ends[i]))
    return EDGE_TRUST + (1.0 - EDGE_TRUST) * np.clip(d / k, 0.0, 1.0)


#: weight, in the 3D smoothing of lift_take, of a joint the 2D did not have in that frame (filled by the lifter)
UNSEEN_JOINT_WEIGHT = 0.05


def take_refiner(runner: Runner, path: Path | None = None) -> LoadedRefiner | None:
    """The take refiner for runner's lifter: path, else the shipped one trained on this lifter's take
    lifts (weights/refine.pt for lift.pt, weights/refine-bones.pt for lift-bones.pt: any
    weights/refine*.pt whose recorded lifter digest is this lifter's); None where there is none (a
    refiner's corrections are its own lifter's). Loaded once per runner."""
    key = str(path or "")
    cache = runner.__dict__.setdefault("_refiners", {})
    if key not in cache:
        digest = file_digest(runner.model.path)
        loaded = None
        if path:
            loaded = load_refiner(Path(path))
            if loaded.lifter_digest != digest:
                raise InputError(f"{path}: was trained on the take lifts of another lifter than "
                                 f"{runner.model.path}; train one for it (gfpose train --task refine)")
        else:
            for found in sorted(WEIGHTS_DIR.glob("refine*.pt"), key=lambda p: (p.name != "refine.pt", p.name)):
                candidate = load_refiner(found)
                if candidate.lifter_digest == digest:
                    loaded = candidate
                    break
        cache[key] = loaded
    return cache[key]


def refiner_inputs(keypoints: Take) -> tuple[np.ndarray, np.ndarray]:
    """The 2D a take refiner sees: the keypoints as given (pixels) and which were seen (mask and finite)."""
    pixels = keypoints.positions.astype(np.float64)
    return pixels, keypoints.mask & np.isfinite(pixels).all(-1)


def _frames_of(take: Take, a: int, b: int) -> Take:
    """Frames [a, b) of a 2D take, as a take of its own."""
    return replace(take, positions=take.positions[a:b], mask=take.mask[a:b],
                   confidence=None if take.confidence is None else take.confidence[a:b],
                   root=None if take.root is None else take.root[a:b])


def lift_take(runner: Runner, keypoints: Take, *, hypotheses: int = 1, hold_bones: bool = True,
              max_gap_s: float = MAX_GAP_S, lengths: np.ndarray | None = None, refine: bool = True,
              edge_s: float = EDGE_S, height: float | None = None, progress: ProgressFn | None = None) -> Take:
    """Lift a 2D take (one performer over time, e.g. a video's detections) to a smooth 3D take:
    (F, S, 17, 3), root-relative in the camera frame, like lift.

    0. A video's shots (signal.keypoints.shot_cuts: the person jumps across the image or changes size at
       once, a cut) are lifted one by one, each as below; nothing is smoothed or refined across a cut.
    1. The 2D is cleaned along the take (signal.keypoints): each detection weighted by its
       confidence, left/right swaps undone, a keypoint's gaps up to JOINT_BRIDGE_S bridged (longer,
       the lifter fills it from the rest of the body), noise smoothed. The whole person missing
       for up to max_gap_s is bridged in 3D, by the smoother of step 3.
    2. Every frame is lifted from the same starting noise, so the deterministic sampler maps
       consecutive 2D frames to consecutive 3D poses instead of independent draws. With one
       hypothesis that start is the prior's centre (zero noise): the sampler's point estimate,
       closer than a random draw (bench/results/takes.md); with S, hypothesis k starts from draw k
       (at the task's temperature) in every frame, giving S smooth takes.
    3. Each take is Whittaker-smoothed along time (temporal.smooth_take; where the set of keypoints a
       frame is lifted from changes, a keypoint's long gap starting or ending, every lifted joint
       steps, so the frames within edge_s of it count less there and the smoother carries the path
       across), and with hold_bones the
       performer's bone lengths, the medians over the take, are held in every frame. With lengths
       (16,; performer_skeleton of a 3D take of the same performer) the take is first scaled to
       the performer's size, which 2D alone cannot tell, and those lengths are held instead. With
       height (metres: the performer's standing height, floor to the top of the head) the held take is
       scaled by one factor to it (kinematics.bones.standing_height).
    4. With refine (and a take refiner trained on this lifter's take lifts: take_refiner), each
       frame is corrected from a one-second window of the 2D and the lifted take around it
       (model.refiner; at 60 or 120 Hz every 2nd or 4th frame, so the window spans the same time;
       at 15 or 45 Hz, which no whole stride fits, sampled between frames; a take below 15 Hz is left
       as lifted), each correction
       applied at the refiner's recorded gain (measured on subjects it did not train on), then
       smoothed and held as in 3.
    Frames with fewer than 2 keypoints after bridging stay empty (NaN).
    """
    from gfpose_cli.signal.keypoints import JOINT_BRIDGE_S, bridgeable, clean_keypoints, shot_cuts

    if keypoints.dim != 2 or keypoints.positions.ndim != 3:
        raise InputError(_not_2d(keypoints))
    if hypotheses < 1:
        raise ParameterError("hypotheses", "must be at least 1")
    _check_size_given(lengths, height)
    F = keypoints.n_frames
    if F == 0:
        raise InputError(f"{keypoints.path}: the file holds no frames; nothing to lift")
    cuts = shot_cuts(keypoints.positions, keypoints.mask)
    if cuts:  # a video's shots are lifted one by one: across a cut the take would be drawn across the image
        options = dict(hypotheses=hypotheses, hold_bones=hold_bones, max_gap_s=max_gap_s, lengths=lengths,
                       refine=refine, edge_s=edge_s, height=height)
        shots = []
        for a, b in zip([0, *cuts], [*cuts, F]):  # one progress for the whole take: rows done before this shot
            done = a * hypotheses
            on = None if progress is None else (lambda d, n, done=done: progress(done + d, F * hypotheses))
            shots.append(lift_take(runner, _frames_of(keypoints, a, b), **options, progress=on))
        reports = [shot.report for shot in shots]
        scales = [r.performer_scale for r in reports if r.performer_scale is not None]
        report = replace(reports[0], swaps=sum(r.swaps for r in reports), bridged=sum(r.bridged for r in reports),
                         frames_left=sum(r.frames_left for r in reports),
                         noise_px=float(np.median([r.noise_px for r in reports])),
                         performer_scale=float(np.median(scales)) if scales else None,
                         refined=any(r.refined for r in reports),
                         cuts=tuple(t + (keypoints.provenance.first_frame or 0) for t in cuts))
        return Take(positions=np.concatenate([shot.positions for shot in shots]),
                    mask=np.concatenate([shot.mask for shot in shots]), fps=keypoints.fps,
                    provenance=_lifted_provenance(keypoints), report=report)
    cleaned = clean_keypoints(keypoints.positions, keypoints.mask, confidence=keypoints.confidence,
                              fps=keypoints.fps, max_gap_s=min(max_gap_s, JOINT_BRIDGE_S))
    usable = cleaned.mask.sum(1) >= 2
    # the person missing for longer than a keypoint's bridge (up to max_gap_s) is bridged in 3D, where
    # the pose relative to the pelvis moves more smoothly than the 2D does
    person_gap = bridgeable(usable[:, None], max(1, int(round(max_gap_s * keypoints.fps))))[:, 0]
    if not usable.any():
        raise InputError(f"{keypoints.path}: no frame has 2 or more observed keypoints; nothing to lift")
    S, frames = hypotheses, np.flatnonzero(usable)
    noise = torch.zeros(1, N_JOINTS * 3) if point_estimate(runner, S, False) else runner.same_start(S)
    cond = torch.from_numpy(np.repeat(np.nan_to_num(cleaned.positions[frames]), S, 0)).float()
    mask = torch.from_numpy(np.repeat(cleaned.mask[frames], S, 0))
    given = runner if lengths is None else runner.with_lengths(lengths)  # a length-conditioned lifter reads them
    rows = given.sample_rows(len(frames) * S, cond, mask, noise.repeat(len(frames), 1), progress=progress)
    poses = np.full((F, S, N_JOINTS, 3), np.nan)
    poses[frames] = rows.reshape(len(frames), S, N_JOINTS, 3)
    seen = np.repeat(usable[:, None], N_JOINTS, 1)
    kept = usable | person_gap
    # a joint the detector did not see in a frame is the lifter's guess from the rest of the body:
    # it counts a twentieth of a seen one, so the smoother carries the seen frames' path through it
    trust = np.where(cleaned.mask, 1.0, UNSEEN_JOINT_WEIGHT) * usable[:, None]
    trust *= _edge_trust(cleaned.mask, usable, int(round(edge_s * keypoints.fps)))[:, None]
    refiner = take_refiner(runner) if refine else None
    stride = refiner.stride(keypoints.fps) if refiner is not None else None
    refiner = refiner if stride is not None else None  # a take too slow for its windows (under 15 Hz): as lifted

    def own_lengths(path: np.ndarray) -> np.ndarray:
        if hold_bones and usable.sum() >= MIN_TAKE_FRAMES:
            return fit_lengths(path, performer_lengths(path[usable], seen[usable]), fixed=(ROOT,))
        return path

    scales = []
    for k in range(S):
        path = smooth_take(poses[:, k], seen, weights=trust).positions
        path = path - path[:, ROOT : ROOT + 1]
        if refiner is not None:  # corrected from the frames around each one, then smoothed again
            pixels, observed = refiner_inputs(keypoints)
            path = refine_take(refiner.model, pixels, observed, own_lengths(path), stride=stride, gain=refiner.gain)
            path = smooth_take(path, seen, weights=trust).positions
            path = path - path[:, ROOT : ROOT + 1]
        if lengths is not None:
            path, scale = _to_performer(path, lengths, keypoints)
            scales.append(scale)
        else:
            path = own_lengths(path)
            if height is not None:  # one factor for the take, from its held bones
                path, k_size = _to_height(path, height, keypoints, mask=seen)
                scales.append(k_size)
        poses[:, k] = np.where(kept[:, None, None], path, np.nan)
    report = LiftReport(input=str(keypoints.path or ""), temporal=True, swaps=len(cleaned.swaps),
                        bridged=int(cleaned.bridged[usable].sum()) + N_JOINTS * int(person_gap.sum()),
                        frames_left=int((~kept).sum()), noise_px=round(cleaned.noise_px, 3),
                        performer_scale=round(float(np.median(scales)), 4) if scales else None,
                        refined=refiner is not None)
    return Take(positions=poses.astype(np.float32), mask=np.repeat(kept[:, None], N_JOINTS, 1), fps=keypoints.fps,
                provenance=_lifted_provenance(keypoints), report=report)


def one_pose_per_frame(take: Take, task: str) -> Take:
    """A 3D take of one hypothesis per frame ((F, 1, 17, 3), as `lift` writes one) as (F, 17, 3); several
    hypotheses per frame are refused, naming how to collapse them; other takes as they are."""
    if take.positions.ndim != 4 or take.dim != 3:
        return take
    if take.positions.shape[1] == 1:
        return replace(take, positions=take.positions[:, 0])
    raise InputError(f"{take.path}: {task} needs one pose per frame and the file holds {take.positions.shape[1]} "
                     "hypotheses per frame; collapse them first (`gfpose convert FILE {aggregate} mean -o one.npz`)")


def turned(take: Take, rotation: np.ndarray, *, camera_frame: bool) -> Take:
    """The take with its positions (and root) turned by rotation (3, 3), marked as in a camera's frame or not."""
    def turn(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else (np.asarray(x, np.float64) @ rotation.T).astype(x.dtype)

    return replace(take, positions=turn(take.positions), root=turn(take.root),
                   provenance=take.provenance.but(camera_frame=camera_frame))


def z_up(take: Take) -> Take:
    """A 3D take in the canonical Z-up frame the 3D models work in: a camera-frame take (a lift's
    output read back from its NPZ) turned upright, others as they are."""
    return turned(take, CAMERA_TO_Z_UP, camera_frame=False) if take.provenance.camera_frame else take


def in_camera_frame(result: Take) -> Take:
    """A result computed on z_up(take) turned back into the camera's frame its input was in."""
    return turned(result, CAMERA_TO_Z_UP.T, camera_frame=True)


def completable_frames(mask: np.ndarray) -> np.ndarray:
    """Frames (bool (F,)) the completion model can fill: their place is known (pelvis, or both hips)
    and one more joint is seen."""
    return (mask[:, ROOT] | (mask[:, R_HIP] & mask[:, L_HIP])) & (mask.sum(1) >= 2)


#: a take shorter than this is not smoothed (nor handed to the per-frame prior) by denoise
MIN_TAKE_FRAMES = 8

#: consecutive frames of a take move joints (relative to the pelvis) by a few cm (12 cm with 40 mm
#: of noise at 30 Hz); a file of unrelated poses (a generated or shuffled set) jumps by about 30 cm
SEQUENCE_STEP_M = 0.2


def looks_like_sequence(take: Take) -> bool:
    """True when consecutive frames are close enough to be one take (smoothing along time makes
    sense), False for a collection of unrelated poses, which is cleaned one pose at a time."""
    p = take.positions if take.positions.ndim == 3 else take.positions.mean(1)
    if take.dim != 3 or len(p) < MIN_TAKE_FRAMES:
        return False
    rel = p - p[:, ROOT : ROOT + 1]
    dist = np.linalg.norm(np.diff(rel, axis=0), axis=-1)
    seen = np.isfinite(dist)
    step = np.where(seen, dist, 0.0).sum(1) / np.maximum(seen.sum(1), 1)
    step = step[seen.any(1)]
    return bool(len(step)) and float(np.median(step)) < SEQUENCE_STEP_M


def complete(runner: Runner, take: Take, *, hypotheses: int = 1, keep_observed: bool = True,
             progress: ProgressFn | None = None, shard: Shard | None = None,
             journal: ChunkJournal | None = None, temporal: bool = True, one_performer: bool | None = None,
             draw: bool = False) -> Take:
    """Fill missing joints of a 3D take (positions keep their global placement).

    On a take (temporal, one hypothesis) each gap is the most likely smooth path given the
    observed samples around it and the model's completions inside it, weighted by the error the
    model makes on this take (gapfill.py), then held to the performer's bone lengths.
    temporal=False treats frames as unrelated poses (the paper's setting); there one hypothesis is
    the sampler's point estimate (point_estimate) unless draw, and more are draws.

    A model that reads the performer's bone lengths (train --lengths) is given the frames' median
    bone lengths (each bone over the frames that show both its ends) when they are one performer's:
    one_performer True, or None and the frames look like a take; a runner with its own lengths
    (Runner.with_lengths) keeps them.
    """
    take = one_pose_per_frame(take, "complete")
    if take.dim != 3 or take.positions.ndim != 3:
        raise InputError(f"{take.path}: complete needs 3D poses (frames, 17, 3); for 2D input use lift")
    if take.provenance.camera_frame:  # the completion model knows upright poses: filled upright, handed back
        return in_camera_frame(complete(runner, z_up(take), hypotheses=hypotheses, keep_observed=keep_observed,
                                        progress=progress, shard=shard, journal=journal, temporal=temporal,
                                        one_performer=one_performer, draw=draw))
    if take.n_frames == 0:
        raise InputError(f"{take.path}: the take has no frames")
    sequence = looks_like_sequence(take)
    temporal = temporal and hypotheses == 1 and sequence
    if runner.takes_lengths and runner.lengths is None and (sequence if one_performer is None else one_performer):
        runner = runner.with_lengths(performer_lengths(take.positions, take.mask & np.isfinite(take.positions).all(-1)))
    if temporal and shard is not None:
        raise InputError("gap filling along a take needs the whole take in one job; use {per_frame} with {shard}")
    carried = 0
    if temporal:  # along a take, a pelvis unseen for a while is carried by the trunk, and the frames placed
        positions, m = gapfill.carry_pelvis(take.positions, take.mask, take.fps)
        carried = int((completable_frames(m) & ~completable_frames(take.mask)).sum())
        take = replace(take, positions=positions.astype(np.float32), mask=m)
    # a frame needs its place (pelvis or both hips) and one more joint; others stay as they are,
    # like lift leaves frames without detections empty (a C3D take often starts before the subject)
    m = take.mask
    placeable = m[:, ROOT] | (m[:, R_HIP] & m[:, L_HIP])
    usable = completable_frames(m)
    if not usable.any():
        raise InputError(f"{take.path}: no frame has the pelvis (or both hips) and another joint; nothing to complete")
    root = np.where(placeable[:, None], np.nan_to_num(root_estimate(take, strict=False)), 0.0)
    rel = np.nan_to_num(take.positions - root[:, None])
    if temporal:
        def sample(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
            return _complete_rows(runner, rel, root, frames, masks, progress)

        filled, mask = gapfill.fill(take.positions.astype(np.float64), m, usable, take.fps, sample)
        return replace(take, positions=filled.astype(np.float32), mask=mask,
                       report=CompleteReport(temporal=True, frames_left=int((~usable).sum()), pelvis_carried=carried))
    start = _centre_start(runner, take.n_frames, hypotheses, draw)
    poses, (a, b) = _sample_frames(runner, take.n_frames, hypotheses, shard, progress,
                                   {"cond": rel, "mask": m, "x_init": start}, journal=journal)
    poses = poses + root[a:b, None, None]
    if keep_observed:
        poses = np.where(m[a:b, None, :, None], take.positions[a:b, None], poses)
    skip = ~usable[a:b]
    poses[skip] = np.where(m[a:b][skip][:, None, :, None], take.positions[a:b][skip][:, None], np.nan)
    mask = np.where(skip[:, None], m[a:b], True)
    out = poses[:, 0] if hypotheses == 1 else poses
    return replace(take, positions=out, mask=mask, root=None if take.root is None else take.root[a:b],
                   report=CompleteReport(temporal=False, frames_left=int(skip.sum())),
                   shard=shard_place(shard, (a, b), take.n_frames))


def _complete_rows(runner: Runner, rel: np.ndarray, root: np.ndarray, frames: np.ndarray, masks: np.ndarray,
                   progress: ProgressFn | None) -> np.ndarray:
    """gapfill.HYPOTHESES completions of the given frames with the given joints seen: (R, K, 17, 3),
    placed at each frame's root. Hypothesis k starts from the same noise in every frame, so
    consecutive frames get consecutive answers."""
    k = gapfill.HYPOTHESES
    # at the task's starting-noise scale (0.5 for complete3d): on training takes every gap length
    # came out 1-2.5 % closer than with untempered draws, whose mean carries their sampling noise
    noise = runner.same_start(k)
    cond = np.where(masks[..., None], rel[frames], 0.0)
    rows = runner.sample_rows(len(frames) * k, torch.from_numpy(np.repeat(cond, k, 0)).float(),
                              torch.from_numpy(np.repeat(masks, k, 0)), noise.repeat(len(frames), 1),
                              progress=progress)
    return rows.reshape(len(frames), k, N_JOINTS, 3).astype(np.float64) + root[frames, None, None]


def t0_for_noise(runner: Runner, noise_m: float, factor: float = 1.0) -> float:
    """Start time of the per-frame denoiser for noise of noise_m (metres per coordinate): where
    x(t0) = alpha y, whose noise is alpha * noise, has sigma_t = factor times that, i.e.
    log-SNR = -log(factor * noise / spread)."""
    spread = float(runner.model.normaliser.std[1:].median())
    lam = -math.log(max(factor * noise_m, 1e-6) / spread)
    return float(min(max(float(t_of_lambda(runner.sde, torch.tensor(lam))), runner.sde.eps), 1.0))


def denoise(runner: Runner, take: Take, *, t0: float | None = 0.1, progress: ProgressFn | None = None,
            shard: Shard | None = None, temporal: bool = True, hold_bones: bool = True,
            one_performer: bool | None = None) -> Take:
    """Clean a 3D take: smooth it along time (temporal.smooth_take), optionally run the reverse
    process from t0 with the pose as x(t0), and hold the performer's bone lengths. Missing samples
    stay missing (filling them is `complete`'s job); the per-frame denoiser refuses them.

    t0 None ("auto") skips the prior pass on a smoothed take: on held-out takes it moved joints
    more than the noise it removed (bench/results/takes.md). temporal=False is the paper's
    per-frame denoiser, where t0 None is matched to the take's measured noise level. What was
    estimated and chosen is the result's report (DenoiseReport).

    Frames are one performer's with one_performer True, or None and they look like a take (a set of
    unrelated poses may hold many people). Then a prior that reads the performer's bone lengths
    (train --lengths; weights/prior-bones.pt, prior_runner) is given their bone lengths, measured
    through the noise (kinematics.bones.lengths_through_noise), and with hold_bones the per-frame
    denoiser holds them in every frame as the take denoiser holds the take's medians. A runner that
    has its lengths already (Runner.with_lengths: a skeleton file) gives those instead, and holds
    them frame by frame where the frames are one performer's.
    """
    take = one_pose_per_frame(take, "denoise")
    if take.dim != 3 or take.positions.ndim != 3:
        raise InputError(f"{take.path}: denoise needs 3D poses (frames, 17, 3); these are 2D keypoints (lift them first)")
    if t0 is not None and not 0.0 < t0 <= 1.0:
        raise ParameterError("t0", f"must be in (0, 1], got {t0}")
    if take.provenance.camera_frame:  # the prior knows upright poses: cleaned upright, handed back
        return in_camera_frame(denoise(runner, z_up(take), t0=t0, progress=progress, shard=shard, temporal=temporal,
                                       hold_bones=hold_bones, one_performer=one_performer))
    if temporal and take.n_frames < MIN_TAKE_FRAMES:
        # too short to tell noise from motion; the per-frame prior would pull a clean (bind) pose
        # toward the training bodies (197 mm on a 2-frame file): leave it as it is, and say so
        return replace(take, report=DenoiseReport(too_short=take.n_frames))
    bind = [f for f in take.provenance.bind_frames if 0 <= f < take.n_frames]
    if bind and temporal and shard is None:
        # a rest/bind frame (BVH frame 0 in T-pose) is not part of the motion: hidden from the
        # smoother (not a spike to correct) and handed back exactly as it was
        hidden = take.mask.copy()
        hidden[bind] = False
        inner = replace(take, positions=np.where(hidden[..., None], take.positions, np.nan), mask=hidden,
                        provenance=take.provenance.but(bind_frames=()))
        out = denoise(runner, inner, t0=t0, progress=progress, temporal=temporal, hold_bones=hold_bones,
                      one_performer=one_performer)
        positions, mask = out.positions.copy(), out.mask.copy()
        positions[bind], mask[bind] = take.positions[bind], take.mask[bind]
        return replace(out, positions=positions, mask=mask, provenance=take.provenance,
                       report=out.report.but(bind_frames=tuple(bind)))
    sequence = looks_like_sequence(take)
    temporal = temporal and sequence
    if not temporal and not take.mask.all():
        f, j = np.argwhere(~take.mask)[0]
        raise InputError(f"{take.path}: frame {f} is missing joint {JOINTS[j]}; run `gfpose complete` first")
    positions = take.positions.astype(np.float64)
    report: dict = {"temporal": temporal, "sequence": sequence}
    if temporal:
        # where the whole body jumps as one (two takes joined, frames lost in a block) each side is smoothed
        # alone: smoothed across, the body would be drawn through the air between the two places
        breaks = take_breaks(positions, take.mask)
        smoothed = smooth_take(positions, take.mask, breaks=breaks)
        positions = smoothed.positions
        report.update(noise_mm=smoothed.noise_m * 1000, smoothing=[float(v) for v in smoothed.lam], spikes=smoothed.outliers,
                      remaining_noise_mm=smoothed.residual_noise_m * 1000,
                      breaks=tuple(t + (take.provenance.first_frame or 0) for t in breaks))
    else:
        remaining = noise_level(positions)
        report["noise_mm"] = remaining * 1000
    if t0 is None and not temporal:
        # across unrelated poses there is no time to measure noise against: the paper's usual start
        t0 = t0_for_noise(runner, remaining) if sequence else 0.1
        report["noise_mm"] = report["noise_mm"] if sequence else None
    report["t0"] = t0
    # gaps were bridged by the smoother for the sums below; they are handed back as gaps
    positions = np.where(np.isfinite(positions), positions, 0.0)
    # the model's origin: the 17-joint pelvis is the hips' midpoint (every map places it there, and the prior never
    # saw it elsewhere), so where both hips are seen it is estimated from the pelvis and the hips together, weighted
    # as equally noisy points give them (the midpoint of two has half the variance of one). Kept as the origin, a
    # noisy pelvis shifts every joint the model sees by its noise, which the model cannot tell from the pose: on the
    # five held-out bodies, noise on every joint, P1 after per-frame denoising was 58.8 mm, worse than before it
    # (42); from the pelvis and hips 32.9, and 31.2 against 35.1 where the pelvis is exact (bench/results/accuracy.md)
    hips = take.mask[:, R_HIP] & take.mask[:, L_HIP]
    middle = 0.5 * (positions[:, R_HIP] + positions[:, L_HIP])
    root = np.where(hips[:, None], (positions[:, ROOT] + 2.0 * middle) / 3.0, positions[:, ROOT])
    model_in = positions.copy()
    model_in[:, ROOT] = root
    rel = (model_in - root[:, None]).astype(np.float32)
    a, b = shard_range(take.n_frames, frames_per_chunk(runner, 1), shard)
    performer = sequence if one_performer is None else one_performer
    known = runner.lengths  # given with the runner (a skeleton file), else measured when one performer's
    if known is None and performer and (runner.takes_lengths or (hold_bones and not temporal)):
        # the whole input's lengths, not a shard's: every shard of a take conditions on the same ones; through
        # the noise left in the frames (a smoothed take has little, unrelated noisy poses all of theirs)
        known = lengths_through_noise(positions, take.mask)[0]
    if runner.takes_lengths and known is not None and runner.lengths is None:
        runner = runner.with_lengths(known)
        report["performer_lengths"] = True  # measured here (a runner with its own lengths keeps those)
    if t0 is not None and t0 > 2 * runner.sde.eps:  # below that the reverse process has nothing to do
        x = runner.model.normaliser.encode(torch.from_numpy(rel)) * float(runner.sde.alpha(torch.tensor(t0)))
        poses, (a, b) = _sample_frames(runner, take.n_frames, 1, shard, progress, {"x_init": x.numpy()}, t0)
        out = poses[:, 0] + root[a:b, None]
    else:
        out = positions[a:b]
        if progress:
            progress(b - a, b - a)
    mask = take.mask[a:b]
    if hold_bones and (temporal or (performer and known is not None)):
        # frame by frame, one performer's frames are held to their lengths measured through the noise:
        # the prior alone leaves part of an unseen body's proportions off (bench/results/accuracy-bodies.md)
        out = fit_lengths(out, performer_lengths(positions, take.mask) if temporal else known, mask)
        report["bone_length_cv"] = float(bone_length_cv(out[mask.all(1)])) if mask.all(1).any() else 0.0
    out = np.where(mask[..., None], out, np.nan)
    report["smoothing"] = tuple(report.get("smoothing", ()))
    return replace(take, positions=out, mask=mask, root=None if take.root is None else take.root[a:b],
                   report=DenoiseReport(**report), shard=shard_place(shard, (a, b), take.n_frames))


def merge_shards(parts: list[Take]) -> Take:
    """Join shard outputs (any order) into the take a single-process run would have written."""
    if not parts:
        raise InputError("merge needs at least one shard file")
    info = []
    for p in parts:
        if p.shard is None:
            raise InputError(f"{p.path}: not a shard output (written without {{shard}}, or not NPZ)")
        info.append(((p.shard.index, p.shard.count), (p.shard.start, p.shard.stop, p.shard.total), p))
    n = info[0][0][1]
    total = info[0][1][2]
    info.sort(key=lambda i: i[0][0])
    ks = [i[0][0] for i in info]
    if any(i[0][1] != n or i[1][2] != total for i in info):
        raise InputError("shard files come from different runs (their K/N or frame totals differ)")
    if len({p.provenance.camera_frame for p in parts}) > 1:
        raise InputError("shard files come from different runs (some hold poses in a camera's frame, some Z-up mocap)")
    if ks != list(range(n)):
        missing = sorted(set(range(n)) - set(ks))
        dup = sorted({k for k in ks if ks.count(k) > 1})
        said = []
        if missing:
            said.append("missing the part" + ("s " if len(missing) > 1 else " ")
                        + ", ".join(f"{k}/{n}" for k in missing) + " (the output of --shard K/N; K counts from 0)")
        if dup:
            said.append("the part" + ("s " if len(dup) > 1 else " ") + ", ".join(f"{k}/{n}" for k in dup)
                        + " given twice: " + ", ".join(str(i[2].path) for i in info if i[0][0] in dup))
        raise InputError(f"shards of {n}: {'; '.join(said)}")
    for (_, (a, b, _), p), (_, (a2, _, _), _) in zip(info, info[1:]):
        if b != a2:
            raise InputError(f"{p.path}: frames end at {b} but the next shard starts at {a2}")
    pos = np.concatenate([i[2].positions for i in info])
    mask = np.concatenate([i[2].mask for i in info])
    roots = [i[2].root for i in info]
    root = np.concatenate(roots) if all(r is not None for r in roots) else None
    first = info[0][2]
    return Take(positions=pos, mask=mask, fps=first.fps, root=root, provenance=first.provenance.but(path=None),
                report=first.report)


def root_estimate(take: Take, strict: bool = True) -> np.ndarray:
    """Per-frame root: the pelvis where seen, else the hip midpoint; names the first frame with neither
    (or, not strict, leaves it NaN)."""
    p, m = take.positions, take.mask
    root = np.where(m[:, ROOT, None], p[:, ROOT], 0.5 * (p[:, R_HIP] + p[:, L_HIP]))
    bad = ~m[:, ROOT] & ~(m[:, R_HIP] & m[:, L_HIP])
    if bad.any() and strict:
        raise InputError(f"{take.path}: frame {int(np.argmax(bad))} has neither the pelvis nor both hips; "
                         "the pose cannot be placed")
    return root
