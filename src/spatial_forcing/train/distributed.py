"""Multi-process training: `sf train` under `torchrun` or `accelerate launch`, on plain torch.distributed.

Both launchers start one process per rank with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set;
`process_group()` (entered by `sf train`) joins the group they describe: NCCL with one GPU per process when
CUDA is available, else gloo on CPU. The training loop then asks `Ranks.current()` who it is; without a
launcher that is rank 0 of 1 and nothing here does anything, so one-process runs are untouched.

Why not accelerate's `Accelerator`: the loop needs four things (the process group, a DDP wrap, a sum over
ranks, a barrier), and `Accelerator.prepare` brings others that would change the results or the files of a
run (its own data sharding, a scheduler wrapper, loss scaling inside `accumulate`, `save_state`). accelerate
stays the launcher: `accelerate launch --multi_gpu` runs torchrun's elastic agent, which sets the variables
above.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

# Rank 0 runs the in-training evaluations while the others wait at a barrier: minutes of simulation for a big
# suite. The default timeout (30 min) would kill such a run; a dead rank is caught by the launcher, which
# stops every process when one fails, so a long timeout does not hide a crash.
TIMEOUT = timedelta(hours=6)


@dataclasses.dataclass(frozen=True)
class Ranks:
    """This process's place in the run: rank `rank` of `world`, computing on `device`."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0 alone writes the run directory: checkpoints, metrics, TensorBoard, evaluations, policy."""
        return self.rank == 0

    @classmethod
    def current(cls) -> "Ranks":
        if not (dist.is_available() and dist.is_initialized()):
            return cls()
        device = torch.device("cpu")
        if dist.get_backend() == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        return cls(dist.get_rank(), dist.get_world_size(), device)

    def check(self, cfg: TrainConfig) -> None:
        """One-line errors for a run these processes cannot compute exactly (before anything is loaded)."""
        parts = self.world * cfg.grad_accum
        if cfg.batch_size % parts:
            raise SFError(f"--batch-size {cfg.batch_size} (the global batch) must be divisible by "
                          f"{self.world} process(es) x --grad-accum {cfg.grad_accum} = {parts}")
        if cfg.align.enabled and cfg.align.projector_norm == "batchnorm":
            if self.world > 1 and self.device.type == "cpu":
                raise SFError(f"--align.projector-norm batchnorm with {self.world} processes needs "
                              f"SyncBatchNorm, which runs on GPUs only: on CPU use layernorm (the reference "
                              f"code's) or one process")
            if cfg.grad_accum > 1:
                log.warning("--align.projector-norm batchnorm with --grad-accum %d: its statistics are those "
                            "of each micro-batch, so the run differs from one without accumulation",
                            cfg.grad_accum)

    def wrap(self, model: nn.Module, unused_parameters: bool = False) -> nn.Module:
        """The module the loop calls forward on: `model` itself for one process, else DDP around it (the
        student and the SF branch together, so the projector and layer-mix gradients are all-reduced too).

        No buffer broadcast per forward: every buffer is the same on every rank already (same seed, same data
        statistics such as the SF branch's per-token target means, SyncBatchNorm keeps its running statistics
        in sync), so it would only cost time. (The flag's name changed in torch 2.13.) `unused_parameters`:
        some steps leave parameters without a gradient (the SF branch after `align.until_step`)."""
        if self.world == 1:
            return model
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # GPU only; `check` refused it on CPU
        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel
        flag = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters \
            else "broadcast_buffers"
        return ddp(model, device_ids=ids, find_unused_parameters=unused_parameters, **{flag: False})

    def no_sync(self, model: nn.Module, sync: bool):
        """Gradient accumulation: DDP all-reduces only on the backward of the last micro-batch of a step."""
        if sync or not isinstance(model, nn.parallel.DistributedDataParallel):
            return nullcontext()
        return model.no_sync()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of `values` over the ranks (the tensor itself for one process)."""
        if self.world > 1:
            values = values.clone()
            dist.all_reduce(values)  # gloo has no AVG: means are sums divided by the world size
        return values

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        return values if self.world == 1 else self.sum(values) / self.world

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. builds a missing teacher cache), the others once it is done (and
        read what it wrote)."""
        if not self.main:
            self.barrier()
        yield
        if self.main:
            self.barrier()

    def seed_micro_batch(self, seed: int, step: int, index: int, grad_accum: int) -> None:
        """Give micro-batch `index` of this rank at `step` its own torch RNG stream (flow noise, dropout).

        With several micro-batches per step (ranks x --grad-accum), a continuing global stream would give
        every rank the same noise and would have to be saved per rank for --resume. Instead micro-batch
        g = rank * grad_accum + index of the global batch draws from a stream seeded by (seed, step, g): exact
        on resume, and the same for any (world, grad_accum) of the same product. One micro-batch per step (one
        process, no accumulation): nothing is re-seeded and the global stream runs on as it always did."""
        if self.world * grad_accum == 1:
            return
        g = self.rank * grad_accum + index
        torch.manual_seed(int(np.random.SeedSequence([seed, step, g]).generate_state(1, np.uint64)[0]))


@contextmanager
def process_group() -> Iterator[Ranks]:
    """Join the process group a launcher describes (none without one) for the duration of the block."""
    world = launched_world_size()
    if world is None or (dist.is_available() and dist.is_initialized()):
        yield Ranks.current()
        return
    local = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "False") != "True"
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise SFError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) are visible: "
                          f"start at most that many processes per machine")
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT)
    try:
        ranks = Ranks.current()
        if ranks.world != world:
            raise SFError(f"the launcher set WORLD_SIZE={world} but the process group has {ranks.world} "
                          f"processes")
        if not ranks.main:  # one copy of the progress messages is enough; warnings stay per rank
            logging.getLogger().setLevel(logging.WARNING)
        log.info("process group: %d processes (%s), this is rank %d", ranks.world, dist.get_backend(),
                 ranks.rank)
        yield ranks
    finally:
        dist.destroy_process_group()


def launched_world_size() -> int | None:
    """WORLD_SIZE as torchrun / `accelerate launch --multi_gpu` set it; None when no launcher started us.

    The trap: `accelerate launch --num_processes N` without --multi_gpu on a machine without several GPUs
    (and always with --cpu) silently starts ONE process with no WORLD_SIZE. Training on would give a
    1-process run where N were asked for, so it is refused."""
    if "WORLD_SIZE" in os.environ:
        try:
            return int(os.environ["WORLD_SIZE"])
        except ValueError:
            raise SFError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None
    mpi = os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE")
    if mpi and mpi != "1":  # e.g. accelerate's --mpirun_hostfile: N processes that would each train alone
        raise SFError(f"started by MPI as {mpi} processes, which sf train does not join: use torchrun or "
                      f"accelerate launch --multi_gpu")
    if "ACCELERATE_USE_CPU" in os.environ:  # set by accelerate's one-process launcher only
        asked = accelerate_processes(_parent_argv())
        if asked is not None and asked > 1:
            raise SFError(f"accelerate launch was asked for {asked} processes but started 1 (it does so on "
                          f"CPU and with --cpu): use `accelerate launch --multi_gpu --num_processes {asked}` "
                          f"(gloo on CPU) or `torchrun --nproc_per_node {asked}`")
    return None


def accelerate_processes(argv: list[str]) -> int | None:
    """The --num_processes / --num-processes value of an `accelerate launch` command line, if given."""
    for i, arg in enumerate(argv):
        for flag in ("--num_processes", "--num-processes"):
            value = arg[len(flag) + 1:] if arg.startswith(flag + "=") else None
            if arg == flag and i + 1 < len(argv):
                value = argv[i + 1]
            if value is not None:
                try:
                    return int(value)
                except ValueError:
                    return None
    return None


def _parent_argv() -> list[str]:
    """The command line of the process that started this one (the launcher); [] where unreadable."""
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
