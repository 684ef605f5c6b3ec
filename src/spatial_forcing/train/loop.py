"""The training loop: read it top to bottom. loss = action_loss + alpha * align_loss.

One process, or one of several started by torchrun / accelerate launch (`train.distributed`): every rank
computes its shard of each step's global batch (`train.batches`), DDP averages the gradients, rank 0 alone
writes checkpoints, metrics, TensorBoard, evaluations and the exported policy."""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import default_collate
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.data.augment import augment_batch
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.train.batches import loss_shares, shard_rows, split_batch, to_device
from spatial_forcing.train.checkpoint import latest_checkpoint, restore_latest, save_checkpoint
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.distributed import Ranks
from spatial_forcing.train.eval_curve import curve_evaluator
from spatial_forcing.train.guard import grad_norm, likely_cause, nonfinite
from spatial_forcing.train.metrics import log_scalars, truncate_metrics
from spatial_forcing.train.model import TrainModule
from spatial_forcing.train.run_dir import METRICS, POLICY, check_start, cleaned_on_error, open_run
from spatial_forcing.train.setup import build_run
from spatial_forcing.train.targets import TargetProvider
from spatial_forcing.train.validation import Validation
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import config_to_dict
from spatial_forcing.vla.export import export_policy

log = logging.getLogger(__name__)


def batch_positions(step: int, num_samples: int, batch_size: int, seed: int) -> torch.Tensor:
    """Dataset positions of the batch at `step`: a fresh seeded permutation per epoch (resume-exact)."""
    per_epoch = max(1, num_samples // batch_size)
    epoch, pos = divmod(step, per_epoch)
    perm = torch.randperm(num_samples, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return perm[pos * batch_size : (pos + 1) * batch_size]


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then constant or cosine decay to 10%."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train(cfg: TrainConfig, resume: bool = False,
          on_eval: Callable[[int, torch.nn.Module], dict] | None = None) -> Path:
    """Train one policy; returns the directory of the exported student (run_dir/policy)."""
    run_dir = Path(cfg.out)
    ranks = Ranks.current()  # rank 0 of 1 unless a launcher started several processes
    ranks.check(cfg)  # the global batch splits evenly over ranks and micro-batches; no CPU SyncBatchNorm
    found = check_start(cfg, resume, ranks.world)  # before loading: a bad --out or changed config fails fast
    data, tokenizer, policy, teacher = build_run(cfg)
    sf, targets = None, None
    if teacher is not None:
        with ranks.main_first():  # rank 0 builds a missing teacher cache, the other ranks then read it
            try:
                layers = cfg.align.resolve_layers(policy.num_layers)
                targets = TargetProvider.for_dataset(teacher, cfg.align.teacher_layer, cfg.targets, data,
                                                     overwrite=cfg.overwrite)
            except ValueError as err:
                raise SFError(str(err)) from None
            sf = SpatialForcing(cfg.align, policy.config.llm_dim, teacher.dim, layers)
            _set_dataset_targets(sf, targets, policy.token_layout().grid, cfg)
        if isinstance(teacher, torch.nn.Module):
            teacher.to(ranks.device)  # online targets: the teacher runs where the student does
    model = TrainModule(policy, sf).to(ranks.device)
    if cfg.eval_every and on_eval is None:
        on_eval = curve_evaluator(cfg, data, ranks.device)
    validate = Validation(cfg, data) if cfg.val_every else None

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    start = 0
    restored = restore_latest(run_dir, model, optimizer, scheduler) if resume else None  # every rank reads it
    if restored is not None:
        start = restored[1]
        log.info("resumed from %s at step %d", restored[0], start)
    elif resume:
        log.info("no checkpoint in %s; starting from scratch", run_dir)
    preflight(model, data, targets, ranks.device)
    # DDP around student + SF branch (several ranks; the SF branch unused after align.until_step); `model` for one
    step_model = ranks.wrap(model, unused_parameters=sf is not None and cfg.align.until_step > 0)

    # Nothing was written into run_dir before this point: a run that fails its checks leaves nothing behind.
    # Every rank has read run_dir (checks, checkpoint) before rank 0 starts writing into it.
    ranks.barrier()
    metrics_path = run_dir / METRICS
    writer = None
    if ranks.main:
        open_run(run_dir, cfg, ranks.world)
        truncate_metrics(metrics_path, start)
        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start)

    def measure(step: int, evaluate: Callable[[], dict]) -> None:
        """Rank 0 evaluates the policy as it is and logs the result; the other ranks wait for it."""
        if ranks.main:
            model.eval()
            log_scalars(writer, metrics_path, step, evaluate())
            model.train()
        ranks.barrier()

    with cleaned_on_error(run_dir, found) if ranks.main else nullcontext(), writer or nullcontext():
        model.train()
        bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=run_dir.name,
                   disable=not ranks.main)
        busy, timed = 0.0, 0  # seconds in training steps since the last log (evaluation and saving excluded)
        for step in bar:
            tick = time.perf_counter()
            # This rank's rows of the step's global batch: the same seeded permutation on every rank.
            rows = shard_rows(cfg.batch_size, ranks)
            positions = batch_positions(step, len(data), cfg.batch_size, cfg.seed)[rows]
            batch = default_collate([data[int(i)] for i in positions])
            boxes = augment_batch(batch, cfg.crop_scale, cfg.seed, step, rows, cfg.batch_size)  # None: off
            batch = to_device(batch, ranks.device)
            # Alignment on this step? Off for the baseline and from step align.until_step on (HASTE-style):
            # then the loss is the action loss alone and the projector gets no gradient (AdamW skips it).
            aligning = sf is not None and cfg.align.active(step)
            if aligning:  # the same crop on the feats
                batch["teacher_feats"] = targets(positions, batch["images"], boxes).to(ranks.device)

            # --grad-accum micro-batches, each loss weighted by its share of the global batch (train.batches);
            # DDP all-reduces (averages) the gradients on the last backward only.
            optimizer.zero_grad(set_to_none=True)
            micro_batches = split_batch(batch, cfg.grad_accum)
            shares = loss_shares(micro_batches, ranks)  # all 1.0 for one process without accumulation
            losses, parts = [], []
            for i, micro in enumerate(micro_batches):
                ranks.seed_micro_batch(cfg.seed, step, i, cfg.grad_accum)  # per micro-batch noise
                with ranks.no_sync(step_model, sync=i == len(micro_batches) - 1):
                    action_loss, align_loss, metrics = step_model(micro, align=aligning)
                    action_loss, align_loss = shares[i, 0] * action_loss, shares[i, 1] * align_loss
                    loss = action_loss + cfg.align.alpha * align_loss
                    loss.backward()
                losses.append(torch.stack([action_loss.detach(), align_loss.detach()]))
                parts.append(metrics)
            # The global batch's losses (the same on every rank): the mean over ranks of each one's sum.
            action_loss, align_loss = ranks.mean(torch.stack(losses).sum(dim=0))
            loss = action_loss + cfg.align.alpha * align_loss

            norm = grad_norm(model.parameters(), cfg.grad_clip)  # clips when cfg.grad_clip > 0
            done = step + 1
            problem = nonfinite({"the action loss": action_loss, "the alignment loss": align_loss,
                                 "the gradient norm": norm})
            if problem:  # a NaN never recovers: stop before it reaches the weights, checkpoints or policy
                raise SFError(f"step {done}: {problem}: {likely_cause(batch, cfg)}; stopped before updating "
                              f"the weights: {_kept(run_dir)}")
            optimizer.step()
            scheduler.step()
            busy, timed = busy + time.perf_counter() - tick, timed + 1

            if done % cfg.log_every == 0 or done == cfg.steps:
                scalars = {"loss": loss.item(), "action_loss": action_loss.item(),
                           "align_loss": align_loss.item(), "lr": scheduler.get_last_lr()[0],
                           "step_s": busy / timed, **_mean_metrics(parts, ranks)}
                busy, timed = 0.0, 0
                if ranks.main:
                    log_scalars(writer, metrics_path, done, scalars)
                bar.set_postfix(_bar_fields(scalars))
            if validate is not None and (done % cfg.val_every == 0 or done == cfg.steps):
                measure(done, lambda: validate(policy))
            if on_eval is not None and cfg.eval_every and done % cfg.eval_every == 0:
                measure(done, lambda: on_eval(done, policy))
            if ranks.main and (done % cfg.save_every == 0 or done == cfg.steps):
                save_checkpoint(run_dir, done, model, optimizer, scheduler)
    model.eval()
    if ranks.main:
        export_policy(run_dir / POLICY, policy, config_to_dict(policy.config), tokenizer.to_json(),
                      data.normalizer.state_dict(),
                      extra={"dataset": str(cfg.dataset), "cameras": cfg.cameras, "steps": cfg.steps,
                             "crop_scale": cfg.crop_scale,
                             "spatial_forcing": cfg.align.enabled})
    ranks.barrier()  # the policy exists on every rank's return
    return run_dir / POLICY


def _mean_metrics(parts: list[dict[str, float]], ranks: Ranks) -> dict[str, float]:
    """The model's metrics (cosines, layer weights) of a step: mean over micro-batches and ranks."""
    if len(parts) == 1 and ranks.world == 1:
        return parts[0]
    keys = sorted(parts[0])
    values = torch.tensor([[p[k] for k in keys] for p in parts], dtype=torch.float64).mean(dim=0)
    return dict(zip(keys, ranks.mean(values.to(ranks.device)).tolist()))


def _kept(run_dir: Path) -> str:
    """What a stopped run leaves: its last (finite) checkpoint, and policy/ untouched."""
    ckpt = latest_checkpoint(run_dir)
    where = f"the last checkpoint is {ckpt}" if ckpt else "no checkpoint was written"
    return f"{where}, {run_dir / POLICY} was not written; start over with a fix and --overwrite"


def _set_dataset_targets(sf: SpatialForcing, targets: TargetProvider, grid: tuple[int, int],
                         cfg: TrainConfig) -> None:
    """Give the SF branch the teacher-feature statistics and the dataset's mean target per token."""
    try:
        sf.set_target_stats(targets.feature_stats)
        sf.set_position_mean(targets.position_mean(grid, cfg.align))
    except ValueError as err:
        raise SFError(f"target statistics: {str(err).splitlines()[0]}") from None
    cos, frames = targets.position_only_cos(grid, cfg.align)
    log.info("targets (target_norm=%s): the dataset's mean target per token alone has cosine %.3f with the "
             "targets of %d frames", cfg.align.target_norm, cos, frames)


def _bar_fields(scalars: dict) -> dict[str, str]:
    """Progress-bar fields: the losses; for SF runs also the alignment, position-only and residual cosines."""
    fields = {"action": f"{scalars['action_loss']:.4f}", "align": f"{scalars['align_loss']:.3f}"}
    for name, key in (("cos", "align_cos"), ("pos", "position_only_cos"), ("res", "residual_cos")):
        if key in scalars:
            fields[name] = f"{scalars[key]:.3f}"
    return fields


def preflight(model: TrainModule, data: ChunkDataset, targets: TargetProvider | None,
              device: torch.device = torch.device("cpu")) -> None:
    """One forward on two samples: catches layer paths, token layouts and teacher shapes before training."""
    positions = torch.arange(min(2, len(data)))
    batch = to_device(default_collate([data[int(i)] for i in positions]), device)
    try:
        with torch.no_grad():
            if targets is not None:
                feats = targets(positions, batch["images"]).to(device)
                want_views, dim = batch["images"].shape[1], targets.teacher.dim
                if feats.dim() != 5 or feats.shape[1] != want_views or feats.shape[-1] != dim:
                    raise ValueError(f"teacher {targets.teacher.name!r} gave features {tuple(feats.shape)}, "
                                     f"expected [B, {want_views}, h, w, {dim}]")
                batch["teacher_feats"] = feats
            model(batch)
    except (ValueError, RuntimeError, TypeError, KeyError) as err:
        raise SFError(f"preflight check failed: {str(err).splitlines()[0]}") from None
    if model.sf is not None and model.sf.capture is not None:
        model.sf.capture.calls = {k: 0 for k in model.sf.capture.calls}
