"""`sf teacher pretrain`: render (or load cached) tabletop frames and pretrain mini3d or mini2d, or the
student's own ViT (vit2d, shaped by a VLA preset) for the student option `vision_init`."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import PRESETS, SmallVLAConfig, preset
from spatial_forcing.vla.vision_init import shipped_name, vit_shape
from spatial_forcing.vla.vision_pretrain import ViT2DConfig

log = logging.getLogger("sf.teacher.pretrain")
MINI_SIZE = {"dim": 192, "depth": 4, "heads": 3, "patch": 8}  # defaults of the mini teachers' size options
KINDS = ("mini3d", "mini2d", "vit2d")


@dataclass
class TeacherPretrainConfig:
    """`sf teacher pretrain`: run the pretraining and print the held-out metrics."""

    # vit2d: the student's own ViT (for its option vision_init), masked-image pretrained with no 3D labels
    teacher: str  # what to pretrain: mini3d | mini2d | vit2d
    out: str  # run directory (checkpoints, weights, render cache)
    minutes: float = 0.0  # wall-clock budget; 0 = none
    steps: int = 3000  # step budget
    renders: int = 2000  # two-view samples to render
    image_size: int = 0  # render and model input size; 0 = 64 (vit2d: the ViT's image_size)
    resume: bool = False  # continue from OUT/checkpoint.safetensors
    data: str = "auto"  # render source: tabletop | synthetic | auto (tabletop if the suite is installed)
    cache: str = ""  # render cache npz; "" = OUT/renders_<source>_<size>px.npz
    batch: int = 16  # samples per step
    lr: float = 1e-3  # peak learning rate
    ckpt_every: int = 200  # steps between checkpoints
    seed: int = 0  # seed of the renders, the init and the batches
    threads: int = 1  # torch threads (1: the cores are shared)
    tensorboard: bool = False  # write TensorBoard scalars to OUT/tb
    # mini teacher size (mini3d, mini2d); 0 = the default of MINI_SIZE
    dim: int = 0  # token width (default 192; features have 2*dim)
    depth: int = 0  # frame/global block pairs (default 4)
    heads: int = 0  # attention heads (default 3)
    patch: int = 0  # patch size (default 8)
    # student ViT shape (vit2d)
    vla_preset: str = ""  # VLA preset whose ViT is pretrained; "" = demo, as sf train
    vla: dict[str, Any] = field(default_factory=dict)  # SmallVLAConfig overrides as in sf train

    def __post_init__(self) -> None:
        if self.teacher not in KINDS:
            raise SFError(f"--teacher {self.teacher!r}: expected one of {list(KINDS)}")
        if self.data not in ("auto", "tabletop", "synthetic"):
            raise SFError(f"--data {self.data!r}: expected auto, tabletop or synthetic")
        for name in ("steps", "renders", "batch", "ckpt_every", "threads"):
            if getattr(self, name) < 1:
                raise SFError(f"--{name.replace('_', '-')}: expected a positive integer, "
                              f"got {getattr(self, name)}")
        for name in ("image_size", *MINI_SIZE):
            if getattr(self, name) < 0:
                raise SFError(f"--{name.replace('_', '-')}: expected a positive integer (0 = the default), "
                              f"got {getattr(self, name)}")
        if self.vla_preset and self.vla_preset not in PRESETS:
            raise SFError(f"--vla-preset {self.vla_preset!r}: expected one of {sorted(PRESETS)}")
        if not isinstance(self.vla, dict):
            raise SFError(f"--vla: expected a JSON object of SmallVLAConfig fields, got {type(self.vla).__name__}")
        unknown = sorted(set(self.vla) - {f.name for f in dataclasses.fields(SmallVLAConfig)})
        if unknown:
            raise SFError(f"--vla: unknown SmallVLAConfig field(s) {unknown}")

    def model(self) -> MiniConfig | ViT2DConfig:
        """The model to pretrain, from the size options of its kind (refusing the other kind's)."""
        if self.teacher != "vit2d":
            if self.vla_preset or self.vla:
                raise SFError("--vla-preset/--vla: only with --teacher vit2d; a mini teacher's size is --dim, "
                              "--depth, --heads, --patch")
            try:
                return MiniConfig(image_size=self.image_size or 64,
                                  **{k: getattr(self, k) or default for k, default in MINI_SIZE.items()})
            except ValueError as err:
                raise SFError(f"model options: {err}") from err
        given = [f"--{name}" for name in MINI_SIZE if getattr(self, name)]
        if given:
            raise SFError(f"{', '.join(given)}: only for the mini teachers; the vit2d shape comes from "
                          "--vla-preset and --vla")
        vla = preset(self.vla_preset or "demo", **self.vla)
        if self.image_size and self.image_size != vla.image_size:
            raise SFError(f"--image-size {self.image_size}: the ViT's image_size is {vla.image_size}; "
                          f"change it with --vla '{{\"image_size\": {self.image_size}}}'")
        return ViT2DConfig.from_vla(vla)

    def options(self) -> dict[str, Any]:
        """The options recorded beside the weights: those of this kind of model."""
        unused = MINI_SIZE if self.teacher == "vit2d" else ("vla_preset", "vla")
        options = {k: v for k, v in dataclasses.asdict(self).items() if k not in unused}
        if self.teacher == "vit2d":
            options["vla_preset"] = self.vla_preset or "demo"
        return options

    def run(self) -> int:
        from spatial_forcing.teachers.pretrain.loop import PretrainConfig, pretrain
        from spatial_forcing.teachers.pretrain.renders import get_renders

        torch.set_num_threads(self.threads)
        model, options = self.model(), self.options()
        cfg = PretrainConfig(teacher=self.teacher, steps=self.steps, minutes=self.minutes or None,
                             batch=self.batch, lr=self.lr, ckpt_every=self.ckpt_every, seed=self.seed,
                             tensorboard=self.tensorboard, model=model)
        out = Path(self.out)
        source = options["data"] = _source(self.data)
        cache = self.cache or out / f"renders_{source}_{model.image_size}px.npz"
        data = get_renders(source, self.renders, model.image_size, cache, seed=self.seed)
        metrics = pretrain(cfg, data, out, resume=self.resume, options=options)
        weights = out / f"{self.teacher}.safetensors"
        print(f"{self.teacher}: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        print(f"weights: {weights}")
        if self.teacher == "vit2d":
            name = shipped_name(vit_shape(model))
            print(f"student option: vision_init={str(weights)!r}; to ship it as vision_init='shipped', copy "
                  f"it and its .json to spatial_forcing/assets/{name}.safetensors and {name}.json")
        return 0


def _source(choice: str) -> str:
    if choice != "auto":
        return choice
    if importlib.util.find_spec("spatial_forcing.sim.tabletop.suite") is not None:
        return "tabletop"
    log.warning("tabletop suite not installed; pretraining on synthetic primitive scenes")
    return "synthetic"
