"""The pretraining loop for mini3d / mini2d and for the student's own ViT (vit2d, vla.vision_pretrain):
cached renders in memory, AdamW with warmup + cosine decay over a step or wall-clock budget, atomic
checkpoints, exact resume, held-out metrics, final weight file."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm import tqdm

from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini2d import Mini2D
from spatial_forcing.teachers.mini import save_weights
from spatial_forcing.teachers.mini3d import Mini3D
from spatial_forcing.teachers.pretrain.evaluate import eval_mini2d, eval_mini3d, eval_vit2d, mean_depth_map
from spatial_forcing.teachers.pretrain.losses import geometry_targets, mini2d_loss, mini3d_loss
from spatial_forcing.teachers.pretrain.render_set import RenderSet
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.vision_pretrain import MaskedViT, ViT2DConfig

log = logging.getLogger(__name__)


@dataclass
class PretrainConfig:
    """One pretraining run."""

    teacher: str = "mini3d"  # "mini3d", "mini2d" or "vit2d" (the student's ViT, not a teacher)
    steps: int = 3000  # step budget (the LR schedule spans min(steps, minutes))
    minutes: float | None = None  # optional wall-clock budget; training stops at whichever comes first
    batch: int = 16  # two-view samples per step
    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.05  # AdamW weight decay
    warmup: int = 100  # linear warm-up steps
    heldout: float = 0.1  # fraction of renders kept for held-out metrics
    ckpt_every: int = 200  # steps between checkpoints (and held-out evaluations)
    seed: int = 0  # model init and batch order
    tensorboard: bool = False  # also write TensorBoard scalars to out/tb
    model: MiniConfig | ViT2DConfig = field(default_factory=MiniConfig)  # size (ViT2DConfig for vit2d)


# kind -> (model class, its config class); every model has `kind`, `cfg` and a dict-returning forward.
MODELS = {"mini3d": (Mini3D, MiniConfig), "mini2d": (Mini2D, MiniConfig), "vit2d": (MaskedViT, ViT2DConfig)}


def _split(data: RenderSet, frac: float) -> tuple[RenderSet, RenderSet]:
    n_held = max(1, int(round(len(data) * frac)))
    if len(data) - n_held < 1:
        raise SFError(f"--renders: need at least 2 samples, got {len(data)}")
    return data.subset(slice(0, len(data) - n_held)), data.subset(slice(len(data) - n_held, None))


def tensors(data: RenderSet, geometry: bool = True) -> dict[str, torch.Tensor]:
    """uint8 images [N,V,3,H,W] plus (with `geometry`) depth and geometry targets."""
    images = torch.from_numpy(data.images).permute(0, 1, 4, 2, 3).contiguous()
    if not geometry:
        return {"images": images}
    depth = torch.from_numpy(data.depth)
    geo = geometry_targets(depth, torch.from_numpy(data.intrinsics), torch.from_numpy(data.extrinsics))
    return {"images": images, "depth": depth, **geo}


def make_model(cfg: PretrainConfig, train: dict[str, torch.Tensor]) -> torch.nn.Module:
    """Seeded fresh model; mini3d's depth/point heads start at the training set's mean depth/point."""
    torch.manual_seed(cfg.seed)
    model = MODELS[cfg.teacher][0](cfg.model)
    if cfg.teacher == "mini3d":
        valid = train["valid"]
        model.init_output_bias(train["depth"][valid].mean().item(), train["points"][valid].mean(0).tolist())
    return model


def compute_losses(model: torch.nn.Module, cfg: PretrainConfig, data: dict[str, torch.Tensor],
                   idx: torch.Tensor, gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Pretraining losses of samples `idx` of `data` (mini2d and vit2d draw their masks from `gen`)."""
    images = data["images"][idx].float() / 255.0
    if cfg.teacher == "mini3d":
        return mini3d_loss(model(images), {k: data[k][idx] for k in ("depth", "valid", "points", "pose")})
    if cfg.teacher == "vit2d":
        return model.loss(images, model.random_mask(images.shape[0] * images.shape[1], gen))
    tokens = (images.shape[-2] // cfg.model.patch) * (images.shape[-1] // cfg.model.patch)
    mask = model.random_mask(images.shape[0] * images.shape[1], tokens, gen)
    return mini2d_loss(model(images, mask), images, cfg.model.patch)


def _progress(step: int, elapsed: float, cfg: PretrainConfig) -> float:
    frac = step / max(cfg.steps, 1)
    if cfg.minutes:
        frac = max(frac, elapsed / (60.0 * cfg.minutes))
    return min(frac, 1.0)


def _lr(step: int, progress: float, cfg: PretrainConfig) -> float:
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    return cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _save_checkpoint(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    save_weights(model, out / "checkpoint.safetensors", extra={"state": state})
    with atomic_path(out / "optimizer.pt") as tmp:
        torch.save(opt.state_dict(), tmp)


def _metrics(model: torch.nn.Module, held: dict, baseline: torch.Tensor | None,
             kind: str) -> dict[str, float]:
    if kind == "mini3d":
        return eval_mini3d(model, held["images"], held["depth"], held["valid"], baseline)
    if kind == "vit2d":
        return eval_vit2d(model, held["images"])
    return eval_mini2d(model, held["images"])


def _check(cfg: PretrainConfig, data: RenderSet) -> None:
    if cfg.teacher not in MODELS:
        raise SFError(f"--teacher: expected one of {sorted(MODELS)}, got {cfg.teacher!r}")
    if not isinstance(cfg.model, MODELS[cfg.teacher][1]):
        raise SFError(f"pretrain config: {cfg.teacher} needs a {MODELS[cfg.teacher][1].__name__} model, "
                      f"got {type(cfg.model).__name__}")
    if data.images.shape[2] != cfg.model.image_size:
        raise SFError(f"renders are {data.images.shape[2]} px but the model expects {cfg.model.image_size}")
    if cfg.teacher == "vit2d" and data.images.shape[1] != cfg.model.views:
        raise SFError(f"renders have {data.images.shape[1]} views but the ViT has views={cfg.model.views}")


def pretrain(cfg: PretrainConfig, data: RenderSet, out: str | Path, resume: bool = False,
             options: dict | None = None) -> dict[str, float]:
    """Train a `cfg.teacher` model on `data`; writes out/checkpoint.* during training and the final fp16
    weights out/<teacher>.safetensors + .json (kind, config, metrics, this config, and `options`: the
    command's options). Returns the final held-out metrics."""
    out = Path(out)
    _check(cfg, data)
    train_set, held_set = _split(data, cfg.heldout)
    geometry = cfg.teacher == "mini3d"  # the 2D objectives never see depth or cameras
    train, held = tensors(train_set, geometry), tensors(held_set, geometry)
    model = make_model(cfg, train)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = {"step": 0, "elapsed": 0.0}
    ckpt = out / "checkpoint.safetensors"
    if resume and ckpt.is_file():
        saved = json.loads(ckpt.with_suffix(".json").read_text())
        if saved.get("kind") != cfg.teacher:
            raise SFError(f"--resume: {ckpt} holds a {saved.get('kind')!r} model, not {cfg.teacher!r}; "
                          "use the same --teacher or a new --out")
        if saved.get("config") != dataclasses.asdict(cfg.model):
            raise SFError(f"--resume: {ckpt} was trained with model {saved.get('config')}, not "
                          f"{dataclasses.asdict(cfg.model)}; use the same options or a new --out")
        model.load_state_dict({k: t.float() for k, t in load_file(str(ckpt)).items()}, strict=True)
        opt.load_state_dict(torch.load(out / "optimizer.pt", weights_only=True))
        state = saved["state"]
        log.info("resumed from %s at step %d", ckpt, state["step"])
    baseline = mean_depth_map(train["depth"], train["valid"]) if cfg.teacher == "mini3d" else None
    writer = None
    if cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    n = len(train["images"])
    model.train()
    bar = tqdm(initial=state["step"], total=cfg.steps, desc=f"pretrain {cfg.teacher}", unit="step")
    start = time.monotonic() - state["elapsed"]
    while _progress(state["step"], state["elapsed"], cfg) < 1.0:
        step = state["step"]
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)  # batch order depends on step only
        idx = torch.randint(n, (min(cfg.batch, n),), generator=gen)
        losses = compute_losses(model, cfg, train, idx, gen)
        lr = _lr(step, _progress(step, state["elapsed"], cfg), cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state = {"step": step + 1, "elapsed": time.monotonic() - start}
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss'].item():.4f}")
        if writer is not None:
            for k, v in losses.items():
                writer.add_scalar(f"train/{k}", v.item(), step + 1)
            writer.add_scalar("train/lr", lr, step + 1)
        if (step + 1) % cfg.ckpt_every == 0:
            metrics = _metrics(model, held, baseline, cfg.teacher)
            state["metrics"] = metrics
            state["loss"] = losses["loss"].item()
            _save_checkpoint(out, model, opt, state)
            log.info("step %d loss %.4f held-out %s", step + 1, losses["loss"].item(),
                     {k: round(v, 4) for k, v in metrics.items()})
            if writer is not None:
                for k, v in metrics.items():
                    writer.add_scalar(f"heldout/{k}", v, step + 1)
    bar.close()
    metrics = _metrics(model, held, baseline, cfg.teacher)
    state["metrics"] = metrics
    _save_checkpoint(out, model, opt, state)
    extra = {"metrics": metrics, "steps": state["step"], "minutes": round(state["elapsed"] / 60, 2),
             "train_samples": n, "heldout_samples": len(held["images"]), "pretrain": dataclasses.asdict(cfg),
             "options": options or {}}
    save_weights(model, out / f"{cfg.teacher}.safetensors", extra=extra, half=True)
    write_json(out / "metrics.json", extra)
    if writer is not None:
        writer.close()
    return metrics
