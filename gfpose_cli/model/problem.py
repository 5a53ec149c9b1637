"""What each task's model sees: the pose x it denoises, the condition c, and their normalisation.

prior:      x = canonical pose (Z up, root at origin), no condition.
lift:       x = root-relative pose in a virtual camera's frame, c = normalised 2D projection.
complete3d: x = canonical pose, c = the same pose with joints hidden by the mask.
Training batches and inference share these definitions so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from gfpose_cli.kinematics.cameras import CameraRanges, project_views, random_views
from gfpose_cli.kinematics.geometry import normalise_2d, rotation_z
from gfpose_cli.core.skeleton import MIRROR, N_JOINTS, PARENTS

TASKS = ("prior", "lift", "complete3d")
#: the tasks whose network can read the performer's bone lengths (train --lengths)
LENGTH_TASKS = ("lift", "prior", "complete3d")
COND_DIM = {"prior": 0, "lift": 2, "complete3d": 3}
DEFAULT_MASK = {"prior": "HPJ-T00", "lift": "HPJ-001+HPJ-020", "complete3d": "HPJ-020+HPJ-002"}


@dataclass
class Normaliser:
    """Per-joint-coordinate mean and std of x, stored in every checkpoint."""

    mean: torch.Tensor  # (17, 3)
    std: torch.Tensor  # (17, 3)

    def encode(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, 17, 3) metres -> (B, 51) normalised."""
        return ((poses - self.mean.to(poses)) / self.std.to(poses)).flatten(1)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 51) normalised -> (B, 17, 3) metres."""
        return x.view(-1, N_JOINTS, 3) * self.std.to(x) + self.mean.to(x)

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.cpu().float(), "std": self.std.cpu().float()}

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        return cls(mean=d["mean"].float(), std=d["std"].float())

    @classmethod
    def fit(cls, poses: torch.Tensor) -> "Normaliser":
        std = poses.std(0)
        return cls(mean=poses.mean(0), std=torch.where(std > 1e-4, std, torch.ones_like(std)))


def random_yaw(poses: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each pose (B, 17, 3) about +Z by a uniform random angle."""
    angles = 2 * torch.pi * torch.rand(poses.shape[0], generator=generator, device=poses.device)
    return poses @ rotation_z(angles).transpose(-1, -2)


def random_mirror(poses: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Mirror left/right (swap sides, flip x) for a random half of the poses."""
    flip = torch.rand(poses.shape[0], generator=generator, device=poses.device) < p
    mirrored = poses[:, list(MIRROR)] * torch.tensor([-1.0, 1.0, 1.0], device=poses.device)
    return torch.where(flip[:, None, None], mirrored, poses)


#: the groups of bones (by child joint) whose lengths vary together between people: the legs' long
#: bones, the arms' long bones, the trunk and head, the hip and shoulder widths (limb segments
#: correlate with each other far more than with the trunk: anthropometric surveys give r ~ 0.6-0.8)
BONE_GROUPS: tuple[int, ...] = (-1, 3, 0, 0, 3, 0, 0, 2, 2, 2, 2, 3, 1, 1, 3, 1, 1)


def random_bone_scale(poses: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
                      correlation: float = 0.0) -> torch.Tensor:
    """Give each pose (B, 17, 3) new proportions: every bone scaled by a log-normal factor (std
    sigma; left and right alike), the joint angles kept. With correlation rho, the bones of one
    group (BONE_GROUPS: legs, arms, trunk, girdles) share that part of their log factors, so a long
    thigh comes with a long shank, as in real bodies; 0 draws every bone alone.

    Why: the CMU archive is one retargeted body and HDM05 four, so without this the model learns a
    handful of skeletons and fits an unseen performer's proportions badly. Overall size is left
    alone: a lifter cannot see it in scale-normalised 2D, and the data already holds five sizes.
    """
    if sigma <= 0:
        return poses
    return scale_bones(poses, bone_scale_factors(poses.shape[0], sigma, generator, correlation, poses.device))


def bone_scale_factors(n: int, sigma: float, generator: torch.Generator | None = None, correlation: float = 0.0,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """n sets of random_bone_scale's factors (n, 17): entry j scales the bone ending in joint j."""
    z = torch.randn(n, N_JOINTS, generator=generator, device=device)
    mirror = torch.tensor(MIRROR, device=device)
    paired = mirror != torch.arange(N_JOINTS, device=device)
    # a left bone and its right twin share one draw; centre bones keep theirs; std stays sigma for both
    z = torch.where(paired, (z + z[:, mirror]) / 2**0.5, z)
    if correlation > 0:
        groups = torch.tensor(BONE_GROUPS, device=device).clamp_min(0)
        shared = torch.randn(n, int(groups.max()) + 1, generator=generator, device=device)[:, groups]
        z = (1 - correlation) ** 0.5 * z + correlation ** 0.5 * shared
    return torch.exp(sigma * z)


def scale_bones(poses: torch.Tensor, bone: torch.Tensor) -> torch.Tensor:
    """poses (B, 17, 3) with the bone ending in joint j scaled by bone[..., j] ((B, 17) or (17,): one body
    for every pose, as over a take), joint angles and the root kept."""
    bone = bone.expand(poses.shape[0], N_JOINTS)
    joints = [poses[:, 0]]
    for j in range(1, N_JOINTS):  # PARENTS lists every parent before its children
        p = PARENTS[j]
        joints.append(joints[p] + (poses[:, j] - poses[:, p]) * bone[:, j, None])
    return torch.stack(joints, 1)


def view_from_cameras(poses: torch.Tensor, generator: torch.Generator | None = None,
                      ranges: CameraRanges = CameraRanges()) -> tuple[torch.Tensor, torch.Tensor]:
    """Root-relative camera-frame 3D (B, 17, 3) and pixel 2D (B, 17, 2) of canonical poses."""
    cam, pixels = project_views(poses, random_views(poses.shape[0], generator, ranges, device=poses.device), ranges)
    return cam - cam[:, :1], pixels


def task_batch(task: str, poses: torch.Tensor, generator: torch.Generator | None = None,
               augment_mirror: bool = False, bone_scale: float = 0.0,
               bone_corr: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Augmented training targets x (B, 17, 3, metres) and raw condition (2D pixels for lift)."""
    poses = random_bone_scale(poses, bone_scale, generator, bone_corr)
    poses = random_yaw(poses, generator)
    if augment_mirror:
        poses = random_mirror(poses, generator)
    if task == "lift":
        return view_from_cameras(poses, generator)
    return poses, None


#: bone-length features (issue 26): per bone LENGTH_SCALE * log(L / reference), so a 5 % longer bone reads
#: 0.49, plus a flag that says whether the lengths were given; LENGTH_DIM numbers in all
LENGTH_SCALE = 10.0
LENGTH_DIM = 17


def length_features(lengths: torch.Tensor | None, reference: torch.Tensor, n: int,
                    given: torch.Tensor | None = None) -> torch.Tensor:
    """(n, LENGTH_DIM) features of a performer's bone lengths for a length-conditioned network.

    lengths: (n, 16) or (16,) metres, or None (not known: every row reads 'not given'). A bone
    that is unknown (NaN, or not positive) reads as the reference. given (n,) in {0, 1} says per
    row whether its lengths count (training draws it); by default every row with lengths does.
    """
    ref = reference.reshape(1, -1).float()
    if lengths is None:
        return torch.zeros(n, LENGTH_DIM, device=ref.device)
    lengths = lengths.reshape(-1, ref.shape[1]).to(ref.device, torch.float32).expand(n, -1)
    ok = torch.isfinite(lengths) & (lengths > 0)
    feats = torch.where(ok, LENGTH_SCALE * torch.log(torch.where(ok, lengths, ref) / ref), torch.zeros_like(lengths))
    flag = torch.ones(n, 1, device=ref.device) if given is None else given.reshape(n, 1).to(ref.device, torch.float32)
    return torch.cat([feats * flag, flag], dim=1)


def encode_condition(task: str, raw: torch.Tensor | None, x_norm: torch.Tensor, mask: torch.Tensor,
                     normaliser: Normaliser) -> torch.Tensor | None:
    """The network's condition input (B, 17*C) for a task; missing joints are zeroed."""
    if task == "lift":
        return normalise_2d(raw, mask.bool()).flatten(1)
    if task == "complete3d":
        return x_norm * mask.repeat_interleave(3, dim=-1)
    return None
