"""`sf train` in 2 CPU processes (torchrun, accelerate launch): the same losses and policy as 1 process with
the same global batch, and a kill of both ranks + --resume ends with the uninterrupted run's weights. Also
the splitting rules (loss shares, gradient accumulation) and the one-line refusals, without processes."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import default_collate

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.loss import cosine_align_loss
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.train import distributed
from spatial_forcing.train.batches import loss_shares, normalisers, split_batch
from spatial_forcing.train.distributed import Ranks, accelerate_processes, launched_world_size
from spatial_forcing.train.loop import train
from spatial_forcing.train.run_dir import check_resume_config, open_run
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

# accelerate is the [dist] extra (in [dev]): only the `accelerate launch` launcher, which src/ never imports.
HAS_ACCELERATE = importlib.util.find_spec("accelerate") is not None
needs_accelerate = pytest.mark.skipif(not HAS_ACCELERATE,
                                      reason="accelerate is not installed: pip install .[dist]")

# 10 steps of the tiny SF run with the layer-mix weights (adaptive mode) and random crops, so that the
# projector, the mix and the sharded crops are all covered; 9 steps per epoch, so a new permutation too.
RUN = dict(steps=10, log_every=1, save_every=4, crop_scale=0.9)
ALIGN = dict(enabled=True, teacher="mini3d", layers=[1, 2], mode="adaptive")
FLAGS = ["--align.layers", "1,2", "--align.mode", "adaptive",
         *(f"--{k.replace('_', '-')}={v}" for k, v in RUN.items())]

# Started by torchrun in place of `python -m spatial_forcing.cli.main`: the same `sf train`, whose rank 0
# SIGKILLs both ranks at the evaluation of step 6 (after checkpoint 4), while rank 1 waits at the barrier.
KILL_BOTH = """
import os, signal, sys
import torch.distributed as dist
import spatial_forcing.train.loop as loop
from spatial_forcing.cli.main import main

real = loop.train

def train_then_kill(cfg, resume=False):
    pids = [None] * dist.get_world_size()
    dist.all_gather_object(pids, os.getpid())
    def kill(step, policy):
        for pid in sorted(pids, key=lambda p: p == os.getpid()):  # the other rank first, this one last
            os.kill(pid, signal.SIGKILL)
    return real(cfg, resume, on_eval=kill)

loop.train = train_then_kill
sys.exit(main(sys.argv[1:]))
"""


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def torchrun(*args, timeout=300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def accelerate_launch(*args, timeout=300):
    with socket.socket() as sock:  # a free port: tests may run side by side
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(port), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(path):
    return load_file(str(path / "model.safetensors"))


@pytest.fixture(scope="module")
def runs(synthetic_dataset, tmp_path_factory, tiny_train_cfg, tiny_train_args):
    """The same 10 steps in 1 process (in this one; it also builds the teacher cache) and in 2 (torchrun)."""
    root = tmp_path_factory.mktemp("ddp")
    train(tiny_train_cfg(synthetic_dataset, root / "one", align=AlignConfig(**ALIGN), **RUN))
    proc = torchrun("-m", "spatial_forcing.cli.main",
                    *tiny_train_args(synthetic_dataset, root / "two", *FLAGS))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_two_processes_give_the_one_process_losses_and_policy(runs):
    one, two = runs / "one", runs / "two"
    assert json.loads((two / "train_config.json").read_text())["world_size"] == 2
    assert json.loads((one / "train_config.json").read_text())["world_size"] == 1
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 10
    assert torch.allclose(torch.tensor(b), torch.tensor(a), rtol=1e-4, atol=0), (a, b)
    p1, p2 = _weights(one / "policy"), _weights(two / "policy")
    assert p1.keys() == p2.keys()
    for key in p1:
        assert torch.allclose(p2[key], p1[key], rtol=0, atol=1e-5), key
    c1 = _weights(one / "checkpoints" / "step_000010")
    c2 = _weights(two / "checkpoints" / "step_000010")
    for key in [k for k in c1 if k.startswith("sf.")]:  # the projector and the layer-mix weights too
        assert torch.allclose(c2[key], c1[key], rtol=0, atol=1e-5), key


def test_kill_of_both_ranks_then_resume_ends_with_the_uninterrupted_weights(
        runs, synthetic_dataset, tmp_path, tiny_train_args, tiny_train_cfg):
    killed = tmp_path / "killed"
    script = tmp_path / "kill_both.py"
    script.write_text(KILL_BOTH)
    proc = torchrun(str(script), *tiny_train_args(synthetic_dataset, killed, *FLAGS, "--eval-every", "6"))
    assert proc.returncode != 0
    assert (killed / "checkpoints" / "latest").read_text() == "step_000004", proc.stderr[-3000:]
    assert not (killed / "policy").exists()
    halfway = shutil.copytree(killed, tmp_path / "halfway")

    # Resume under the other launcher (torchrun again without the [dist] extra), with both ranks: bit-exact.
    launch = accelerate_launch if HAS_ACCELERATE else torchrun
    proc = launch("-m", "spatial_forcing.cli.main",
                  *tiny_train_args(synthetic_dataset, killed, *FLAGS, "--resume"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = _weights(killed / "checkpoints" / "step_000010")
    b = _weights(runs / "two" / "checkpoints" / "step_000010")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _losses(killed) == _losses(runs / "two")

    # Resume in one process: the same micro-batches (1 x --grad-accum 2 for 2 x 1), summed in another order.
    with pytest.raises(SFError, match=r"trained with 2 process\(es\) x --grad-accum 1 .* resume with "
                                      r"--grad-accum 2"):
        train(tiny_train_cfg(synthetic_dataset, halfway, align=AlignConfig(**ALIGN), **RUN), resume=True)
    train(tiny_train_cfg(synthetic_dataset, halfway, align=AlignConfig(**ALIGN), grad_accum=2, **RUN),
          resume=True)
    c = _weights(halfway / "checkpoints" / "step_000010")
    for key in a:
        assert torch.allclose(c[key], a[key], rtol=0, atol=1e-5), key


def test_grad_accum_gives_the_same_losses_and_weights(synthetic_dataset, tmp_path, tiny_train_cfg):
    kw = dict(align=AlignConfig(**ALIGN), steps=5, log_every=1, save_every=5, crop_scale=0.9)
    train(tiny_train_cfg(synthetic_dataset, tmp_path / "k1", **kw))
    train(tiny_train_cfg(synthetic_dataset, tmp_path / "k2", grad_accum=2, **kw))
    assert torch.allclose(torch.tensor(_losses(tmp_path / "k2")), torch.tensor(_losses(tmp_path / "k1")),
                          rtol=1e-5, atol=0)
    a, b = _weights(tmp_path / "k1" / "policy"), _weights(tmp_path / "k2" / "policy")
    for key in a:
        assert torch.allclose(b[key], a[key], rtol=0, atol=1e-5), key
    with pytest.raises(SFError, match=r"^--batch-size 8 \(the global batch\) must be divisible by 1 "
                                      r"process\(es\) x --grad-accum 3 = 3$"):
        train(tiny_train_cfg(synthetic_dataset, tmp_path / "k3", grad_accum=3))


def test_loss_shares_make_micro_batches_sum_to_the_batch_loss(synthetic_dataset):
    """Padding differs between micro-batches (frames near an episode's end): plain means would be off."""
    data = ChunkDataset(synthetic_dataset, chunk=8, cameras=["agentview", "wrist"], image_size=32)
    positions = [0, 11, 1, 10, 2, 9, 5, 8]  # 0-2 unpadded, 8-11 mostly padding
    batch = default_collate([data[i] for i in positions])
    torch.manual_seed(0)
    policy = build_policy(preset("tiny"), WordTokenizer.build(data.instructions))
    with torch.no_grad():
        whole = policy(batch)["action_loss"]
        micro = split_batch(batch, 4)
        shares = loss_shares(micro, Ranks())
        parts = torch.stack([policy(m)["action_loss"] for m in micro])
        plain = parts.mean()
    assert torch.allclose((shares[:, 0] * parts).sum(), whole, rtol=1e-6)
    assert not torch.allclose(plain, whole, rtol=1e-3)  # the case the shares exist for

    # Alignment: a sample without any valid view does not count.
    pred, target = torch.randn(4, 6, 5), torch.randn(4, 6, 5)
    valid = torch.tensor([[True, True], [False, False], [True, False], [True, True]])
    mask = valid[:, :, None].expand(4, 2, 3).reshape(4, 6)
    full = cosine_align_loss(pred, target, mask)[0]
    halves = [{"actions": torch.zeros(2, 1, 1), "view_valid": valid[i:i + 2]} for i in (0, 2)]
    shares = loss_shares(halves, Ranks())
    summed = sum(shares[i, 1] * cosine_align_loss(pred[2 * i:2 * i + 2], target[2 * i:2 * i + 2],
                                                  mask[2 * i:2 * i + 2])[0] for i in range(2))
    assert torch.allclose(summed, full, rtol=1e-6)
    assert normalisers(halves[0]).tolist() == [2.0, 1.0]


def test_micro_batch_noise_depends_on_the_micro_batch_not_on_the_split():
    """Rank 1 of 2 without accumulation draws what micro-batch 1 of 1 process x --grad-accum 2 draws."""
    def draw(ranks, index, accum):
        ranks.seed_micro_batch(seed=3, step=7, index=index, grad_accum=accum)
        return torch.randn(4)

    assert torch.equal(draw(Ranks(rank=1, world=2), 0, 1), draw(Ranks(), 1, 2))
    assert not torch.equal(draw(Ranks(rank=0, world=2), 0, 1), draw(Ranks(rank=1, world=2), 0, 1))
    torch.manual_seed(5)
    Ranks().seed_micro_batch(seed=3, step=7, index=0, grad_accum=1)  # one micro-batch: the stream runs on
    after = torch.randn(4)
    torch.manual_seed(5)
    assert torch.equal(after, torch.randn(4))


def test_batchnorm_projector_with_two_cpu_processes_is_one_line(tiny_train_cfg, tmp_path):
    cfg = tiny_train_cfg("d", tmp_path,
                         align=AlignConfig(enabled=True, layers=[2], projector_norm="batchnorm"))
    with pytest.raises(SFError, match=r"^--align.projector-norm batchnorm with 2 processes needs "
                                      r"SyncBatchNorm, which runs on GPUs only: on CPU use layernorm"):
        Ranks(rank=0, world=2).check(cfg)
    Ranks().check(cfg)  # one process: BatchNorm as always
    with pytest.raises(SFError, match=r"must be divisible by 2 process\(es\) x --grad-accum 2 = 4$"):
        Ranks(rank=1, world=2).check(tiny_train_cfg("d", tmp_path, batch_size=6, grad_accum=2))


def test_world_size_comes_from_the_launcher_and_accelerates_one_process_trap_is_refused(monkeypatch):
    for key in ("WORLD_SIZE", "ACCELERATE_USE_CPU", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert launched_world_size() is None  # no launcher: one process, no process group
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(SFError, match="started by MPI as 2 processes"):
        launched_world_size()
    monkeypatch.delenv("PMI_SIZE")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched_world_size() == 2
    monkeypatch.delenv("WORLD_SIZE")
    # `accelerate launch --num_processes 2` on CPU runs its one-process launcher: no WORLD_SIZE.
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setattr(distributed, "_parent_argv",
                        lambda: ["accelerate", "launch", "--cpu", "--num_processes", "2", "-m", "x"])
    with pytest.raises(SFError, match=r"^accelerate launch was asked for 2 processes but started 1 .* use "
                                      r"`accelerate launch --multi_gpu --num_processes 2`"):
        launched_world_size()
    monkeypatch.setattr(distributed, "_parent_argv",
                        lambda: ["accelerate", "launch", "--num-processes=1", "t"])
    assert launched_world_size() is None
    assert accelerate_processes(["accelerate", "launch", "--num_processes=4"]) == 4
    assert accelerate_processes(["accelerate", "launch", "train.py"]) is None


@needs_accelerate
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(),
                    reason="the launcher's command line is read from /proc")
def test_accelerate_launch_that_starts_one_of_two_processes_is_refused(synthetic_dataset, tmp_path,
                                                                       tiny_train_args):
    """The real trap, end to end: one line, nothing written."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "spatial_forcing.cli.main",
           *tiny_train_args(synthetic_dataset, tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("sf train: error:")]
    assert len(lines) == 1 and "asked for 2 processes but started 1" in lines[0]
    assert not (tmp_path / "run").exists()


def test_resume_needs_the_same_micro_batches_per_step(tiny_train_cfg, tmp_path):
    run = tmp_path / "run"
    open_run(run, tiny_train_cfg("d", run), world_size=4)  # 4 processes x --grad-accum 1
    check_resume_config(run, tiny_train_cfg("d", run), world_size=4)
    check_resume_config(run, tiny_train_cfg("d", run, grad_accum=2), world_size=2)
    with pytest.raises(SFError, match=r"4 process\(es\) x --grad-accum 1 micro-batches per step, this run "
                                      r"has 3 x 1: resume with 4 process\(es\)"):
        check_resume_config(run, tiny_train_cfg("d", run), world_size=3)
