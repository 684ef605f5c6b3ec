"""oracle3d: a perfect 3D teacher, to measure how much an exact geometry target can help Spatial Forcing.

Its features are the simulator's ground-truth geometry of each pool x pool pixel patch, fixed-encoded to C
channels: nothing is learned and no image is looked at. The geometry comes from a dataset generated with
`sf generate --record-geometry` and reaches training through the teacher-feature cache
(`cache_build.build_cache` calls `features_from_dataset`); `forward_intermediates` on images refuses.

Per pixel, every view in the FIRST camera's frame (as VGGT's point maps, `pretrain.losses.geometry_targets`):
    point p (x, y, z, metres), depth d (z-depth in its own camera, metres), unit normal n (cross product of the
    point map's finite differences along v and u: faces the camera), class one-hot (`sim.tabletop.semantics`).
Pixels at or near the far plane (depth >= pretrain.losses.MAX_DEPTH, 3.5 m) are background. Per patch:
    f = foreground fraction; p, d = means over foreground pixels; n = mean normal over the patch (0 where the
    normal is undefined: background, or a background neighbour; shorter than 1 on creases); c = class fractions.
Encoding, raw D = 6F + 2F + 3 + K channels (F = num_freqs; defaults F = 6, K = 9: D = 60):
    xyz    6F  sin/cos(2 pi p_i / lambda_k), lambda_k = max_wavelength / 2^k, k < F; scaled by 1 / sqrt(3F)
    depth  2F  sin/cos(2 pi d / lambda_k); scaled by 1 / sqrt(F)
    normal  3  n
    class   K  c
xyz and depth codes are blended f * code(p, d) + (1 - f) * code(FAR): a background patch gets the fixed code of
depth FAR_DEPTH at (0, 0, FAR_DEPTH), whatever its pixels. Every group has norm <= 1 (xyz, depth: 1 for a pure
patch; normal: 1 on a plane; class: 1 for a single class), so none dominates the cosine. A fixed orthonormal
matrix Q [C, D] (QR of a seeded Gaussian) maps the D channels to C: it keeps every dot product, hence every
cosine, and spreads each group over all channels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spatial_forcing.sim.tabletop.semantics import NUM_CLASSES
from spatial_forcing.teachers.base import RANDOM
from spatial_forcing.teachers.pretrain.losses import geometry_targets
from spatial_forcing.utils.errors import SFError

ENCODING_VERSION = 1  # bump whenever the encoding changes: part of the cache key
FAR_DEPTH = 4.0  # metres: the tabletop's far plane; the depth of the fixed background code
GEOMETRY_KINDS = ("depth", "segmentation", "intrinsics", "extrinsics")  # dataset features read, per camera
FRAMES_PER_PASS = 32  # frames encoded at once (bounds the per-pixel intermediates)
ONLINE_ERROR = ("oracle3d needs simulator geometry: train with --targets cache on a dataset generated with "
                "--record-geometry")


@dataclass(frozen=True)
class OracleConfig:
    dim: int = 128  # output channels C (>= the raw channels D)
    pool: int = 4  # patch side in pixels of the training image: grid = image size / pool
    num_freqs: int = 6  # Fourier frequencies per coordinate
    max_wavelength: float = 2.0  # longest Fourier wavelength (metres); the k-th is max_wavelength / 2^k
    num_classes: int = NUM_CLASSES  # semantic classes one-hot encoded (the tabletop's class table)
    seed: int = 0  # seed of the fixed orthonormal channel map

    @property
    def raw_dim(self) -> int:
        """Channels D before the orthonormal map."""
        return 8 * self.num_freqs + 3 + self.num_classes


class Oracle3D(nn.Module):
    """The Teacher attributes (name, dim, num_layers = 1, grid) plus geometry -> features."""

    name = "oracle3d"
    num_layers = 1

    def __init__(self, cfg: OracleConfig = OracleConfig()) -> None:
        super().__init__()
        if cfg.pool < 1 or cfg.num_freqs < 1 or cfg.num_classes < 1:
            raise SFError(f"oracle3d: pool, num_freqs and num_classes must be >= 1, got {cfg}")
        if cfg.dim < cfg.raw_dim:
            raise SFError(f"oracle3d: dim {cfg.dim} is below its {cfg.raw_dim} raw channels; expected dim >= "
                          f"{cfg.raw_dim}")
        self.cfg, self.dim = cfg, cfg.dim
        self.cache_options = {"oracle": {**asdict(cfg), "encoding": ENCODING_VERSION}}  # in the cache key
        gauss = torch.randn(cfg.dim, cfg.raw_dim, generator=torch.Generator().manual_seed(cfg.seed),
                            dtype=torch.float64)
        self.register_buffer("mix", torch.linalg.qr(gauss)[0].float())  # [C, D], orthonormal columns
        self.register_buffer("wavelengths", cfg.max_wavelength / 2.0 ** torch.arange(cfg.num_freqs),
                             persistent=False)  # metres; from cfg, so not part of the state_dict
        f = cfg.num_freqs
        self.groups = {"xyz": slice(0, 6 * f), "depth": slice(6 * f, 8 * f), "normal": slice(8 * f, 8 * f + 3),
                       "class": slice(8 * f + 3, cfg.raw_dim)}  # name -> raw channels
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "Oracle3D":
        """Teachers stay in eval mode."""
        return super().train(False)

    def grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) = image size / pool."""
        return max(1, image_hw[0] // self.cfg.pool), max(1, image_hw[1] // self.cfg.pool)

    def forward_intermediates(self, images: torch.Tensor, indices: Sequence[int],
                              valid: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Refused: the oracle reads simulator geometry, not images."""
        raise SFError(ONLINE_ERROR)

    # ----- geometry -> features --------------------------------------------------------------------------
    def patch_geometry(self, depth: torch.Tensor, seg: torch.Tensor, intrinsics: torch.Tensor,
                       extrinsics: torch.Tensor, grid: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
        """Per patch of `grid` (default: native size / pool): foreground fraction [B,V,h,w], points [..., 3]
        (first camera's frame), depth, normal [..., 3], class fractions [..., K]."""
        b, v, hh, ww = depth.shape
        grid = grid or self.grid((hh, ww))
        geo = geometry_targets(depth.float(), intrinsics.float(), extrinsics.float())
        fg = geo["valid"].float()
        normal = _normals(geo["points"], geo["valid"])
        if int(seg.max()) >= self.cfg.num_classes:
            raise SFError(f"oracle3d: segmentation class {int(seg.max())} >= num_classes {self.cfg.num_classes}")
        onehot = F.one_hot(seg.long(), self.cfg.num_classes).float()
        per_pixel = torch.cat([fg[..., None], geo["points"] * fg[..., None], (depth.float() * fg)[..., None],
                               normal, onehot], dim=-1)  # [B, V, H, W, 1 + 3 + 1 + 3 + K]
        x = per_pixel.flatten(0, 1).permute(0, 3, 1, 2)
        x = F.adaptive_avg_pool2d(x, grid).permute(0, 2, 3, 1).reshape(b, v, *grid, -1)
        frac = x[..., 0]
        denom = frac.clamp(min=1e-6)[..., None]
        return {"foreground": frac, "points": x[..., 1:4] / denom, "depth": x[..., 4] / denom[..., 0],
                "normal": x[..., 5:8], "class": x[..., 8:]}

    def encode(self, patches: dict[str, torch.Tensor]) -> torch.Tensor:
        """patch_geometry output -> raw codes [..., D] (groups in `self.groups`), before the channel map."""
        f = patches["foreground"][..., None]
        far = torch.tensor([0.0, 0.0, FAR_DEPTH], device=f.device)
        xyz = f * self._fourier(patches["points"]) + (1 - f) * self._fourier(far)
        depth = f * self._fourier(patches["depth"][..., None]) + (1 - f) * self._fourier(far[2:])
        return torch.cat([xyz / math.sqrt(3 * self.cfg.num_freqs), depth / math.sqrt(self.cfg.num_freqs),
                          patches["normal"], patches["class"]], dim=-1)

    @torch.no_grad()
    def features_from_geometry(self, depth: torch.Tensor, seg: torch.Tensor, intrinsics: torch.Tensor,
                               extrinsics: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """depth [B,V,H,W] (metric z), seg [B,V,H,W] (class ids), intrinsics [B,V,3,3], extrinsics [B,V,4,4]
        (world-to-camera, OpenCV) -> features [B, V, h, w, C]."""
        raw = self.encode(self.patch_geometry(depth, seg, intrinsics, extrinsics, grid))
        return raw @ self.mix.T

    def _fourier(self, x: torch.Tensor) -> torch.Tensor:
        """[..., n] -> [..., 2 n F]: sin and cos of 2 pi x / lambda_k for every value and wavelength."""
        phase = 2 * math.pi * x[..., None] / self.wavelengths.to(x.device)
        return torch.cat([phase.sin(), phase.cos()], dim=-1).flatten(-2)

    # ----- dataset access (the cache build's branch) -------------------------------------------------------
    def check_dataset(self, reader: Any, views: Sequence[str]) -> None:
        """SFError unless `reader` holds every geometry feature of every view."""
        want = [f"observation.{kind}.{cam}" for cam in views for kind in GEOMETRY_KINDS]
        missing = [k for k in want if k not in reader.array_keys]
        if missing:
            raise SFError(f"dataset {reader.root} has no {missing[0]} feature: oracle3d needs a dataset generated "
                          f"with `sf generate ... --record-geometry`")

    def features_from_dataset(self, reader: Any, views: Sequence[str], lo: int, hi: int,
                              image_hw: tuple[int, int]) -> torch.Tensor:
        """Features [hi - lo, V, h, w, C] of global frames [lo, hi), on the grid of `image_hw` training images."""
        self.check_dataset(reader, views)
        arrays = [torch.stack([torch.from_numpy(reader.array(f"observation.{kind}.{cam}", lo, hi)) for cam in views],
                              dim=1) for kind in GEOMETRY_KINDS]  # each feature read once per call
        grid = self.grid(image_hw)
        return torch.cat([self.features_from_geometry(*(a[i:i + FRAMES_PER_PASS] for a in arrays), grid=grid)
                          for i in range(0, hi - lo, FRAMES_PER_PASS)])


def _normals(points: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Unit normals [B,V,H,W,3] of a point map, facing its camera; 0 where a pixel or a 4-neighbour is invalid."""
    d_v, d_u = torch.gradient(points, dim=(2, 3))
    normal = F.normalize(torch.cross(d_v, d_u, dim=-1), dim=-1, eps=1e-12)
    padded = F.pad(valid.flatten(0, 1)[:, None].float(), (1, 1, 1, 1), mode="replicate")  # borders: one-sided
    cross = torch.tensor([[[[0.0, 1, 0], [1, 1, 1], [0, 1, 0]]]], device=points.device)  # pixel + 4 neighbours
    inside = F.conv2d(padded, cross) > 4.5
    return normal * inside.reshape(valid.shape)[..., None]


def build(weights: str | None = None, seed: int | None = None, **options: Any) -> Oracle3D:
    """The oracle3d teacher (registry factory); `options` override OracleConfig fields. It has no weights:
    None and "random" (teachers.registry) both build it, its channel map seeded by `seed` (OracleConfig.seed)."""
    if weights not in (None, RANDOM):
        raise SFError(f"oracle3d has no weights; drop --teacher-weights / --weights ({weights!r})")
    if seed is not None:
        options["seed"] = seed
    try:
        return Oracle3D(OracleConfig(**options))
    except TypeError as err:
        raise SFError(f"oracle3d: {err}; expected options among {sorted(asdict(OracleConfig()))}") from None
