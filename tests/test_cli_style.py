"""Every `sf` subcommand is a config dataclass driven through utils.dataclass_cli: one option per field,
each with the help of its field comment; the flags used before that change still parse to the same values;
bad options are one line."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from spatial_forcing.cli.demo import DemoConfig
from spatial_forcing.cli.experiment import ExperimentCommandConfig
from spatial_forcing.cli.export import ExportConfig
from spatial_forcing.cli.main import build_parser, main
from spatial_forcing.cli.report import ReportConfig
from spatial_forcing.cli.summarize import SummarizeConfig
from spatial_forcing.data.generate import GenerateConfig
from spatial_forcing.eval.config import EvalConfig
from spatial_forcing.probe.config import ProbeConfig
from spatial_forcing.sim.expert_check import ExpertCheckConfig
from spatial_forcing.teachers.cache_cli import TeacherCacheConfig
from spatial_forcing.teachers.inspect_cli import TeacherInspectConfig
from spatial_forcing.teachers.pretrain_cli import TeacherPretrainConfig
from spatial_forcing.teachers.vggt.keys_cli import TeacherKeysConfig
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import build_config, overrides_from_args

# command -> (its config, options beside the config's fields)
COMMANDS = {
    ("demo",): (DemoConfig, set()),
    ("train",): (TrainConfig, {"resume", "config_file"}),
    ("eval",): (EvalConfig, {"policy", "out", "preset", "suite", "lerobot_max_steps", "config_file"}),
    ("generate",): (GenerateConfig, set()),
    ("expert-check",): (ExpertCheckConfig, set()),
    ("teacher", "pretrain"): (TeacherPretrainConfig, set()),
    ("teacher", "cache"): (TeacherCacheConfig, set()),
    ("teacher", "inspect"): (TeacherInspectConfig, set()),
    ("teacher", "keys"): (TeacherKeysConfig, set()),
    ("experiment",): (ExperimentCommandConfig, set()),
    ("summarize",): (SummarizeConfig, set()),
    ("probe",): (ProbeConfig, set()),
    ("report",): (ReportConfig, set()),
    ("export",): (ExportConfig, set()),
}


def _subparsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _subparsers(child, path + (name,))


def test_every_command_is_its_config():
    commands = dict(_subparsers(build_parser()))
    assert set(commands) == set(COMMANDS)
    for path, (cls, extra) in COMMANDS.items():
        dests = {a.dest for a in commands[path]._actions} - {"help"}
        fields = {f.name for f in dataclasses.fields(cls)} - {"align"}  # train's nested AlignConfig: align.*
        assert fields <= dests and dests - fields - extra <= {f"align.{f}" for f in _align_fields()}, path
        for action in commands[path]._actions:
            if action.dest in fields:
                assert action.help, f"{' '.join(path)} {action.dest}: no help (a field without its comment)"


def _align_fields() -> set[str]:
    from spatial_forcing.core.config import AlignConfig

    return {f.name for f in dataclasses.fields(AlignConfig)}


def _config(argv: list[str], cls: type):
    return build_config(cls, overrides_from_args(build_parser().parse_args(argv)))


@pytest.mark.parametrize("argv,cls,expected", [
    (["generate", "--env", "tabletop", "--out", "D", "--episodes-per-task", "20", "--init-states", "5-39",
      "--workers", "2", "--tasks", "0,1,2,3", "--image-size", "64", "--seed", "1", "--action-noise", "0.5",
      "--noise-rate", "0.1", "--keep-work", "--record-geometry", "--max-attempts", "9"], GenerateConfig,
     dict(init_states=list(range(5, 40)), tasks=[0, 1, 2, 3], keep_work=True, record_geometry=True,
          max_attempts=9, action_noise=0.5)),
    (["expert-check", "--env", "libero_spatial", "--init-states", "40-49", "--workers", "2", "--out", "F",
      "--episodes-per-task", "3", "--tasks", "1,5"], ExpertCheckConfig,
     dict(init_states=list(range(40, 50)), tasks=[1, 5], episodes_per_task=3, workers=2)),
    (["teacher", "pretrain", "--teacher", "vit2d", "--vla-preset", "demo", "--out", "O", "--steps", "10000",
      "--renders", "10000", "--seed", "0", "--vla", '{"patch_size": 8}', "--minutes", "5", "--resume",
      "--data", "synthetic", "--cache", "c.npz", "--batch", "4", "--lr", "1e-3", "--ckpt-every", "2",
      "--threads", "1", "--tensorboard"], TeacherPretrainConfig,
     dict(vla={"patch_size": 8}, minutes=5.0, resume=True, tensorboard=True, steps=10000)),
    (["teacher", "pretrain", "--teacher", "mini2d", "--out", "O", "--image-size", "32", "--dim", "32",
      "--depth", "1", "--heads", "2", "--patch", "8"], TeacherPretrainConfig,
     dict(dim=32, depth=1, heads=2, patch=8, image_size=32)),
    (["teacher", "cache", "--dataset", "D", "--teacher", "mini3d", "--layer", "-1", "--weights", "w",
      "--image-size", "64", "--cameras", "agentview", "wrist", "--out", "o", "--batch-size", "8",
      "--chunk-frames", "50", "--overwrite", "--seed", "1", "--threads", "1"], TeacherCacheConfig,
     dict(layer=-1, cameras=["agentview", "wrist"], overwrite=True, chunk_frames=50)),
    (["teacher", "cache", "--dataset", "D", "--teacher", "vggt", "--layer", "3", "--vggt-config", "tiny",
      "--cameras", "agentview,wrist"], TeacherCacheConfig, dict(vggt_config="tiny", cameras=["agentview", "wrist"])),
    (["teacher", "inspect", "--dataset", "D", "--teacher", "mini3d", "--teacher-weights", "w", "--layer", "-2",
      "--student-grid", "4", "--target-norm", "token_mean", "--target-norm-gamma", "0.5", "--use-pe", "false",
      "--pe-scale", "0.2", "--max-frames", "100", "--seed", "3", "--image-size", "64", "--cameras", "wrist",
      "--batch-size", "8", "--json", "f.json", "--threads", "1"], TeacherInspectConfig,
     dict(use_pe=False, layer=-2, cameras=["wrist"], json="f.json", target_norm="token_mean")),
    (["teacher", "keys", "vggt", "--config", "tiny", "--json"], TeacherKeysConfig,
     dict(name="vggt", config="tiny", json=True)),
    (["teacher", "keys"], TeacherKeysConfig, dict(name="vggt", config="vggt-1b", json=False)),
    (["experiment", "plan.json", "--out", "o", "--jobs", "2", "--only", "a,b", "--dry-run"],
     ExperimentCommandConfig, dict(plan="plan.json", jobs=2, only=["a", "b"], dry_run=True)),
    (["summarize", "exp", "--reference", "baseline"], SummarizeConfig, dict(dir="exp", reference="baseline")),
    (["export", "ckpt", "--lerobot", "--out", "o"], ExportConfig, dict(src="ckpt", out="o", lerobot=True)),
])
def test_the_flags_in_use_still_parse(argv, cls, expected):
    cfg = _config(argv, cls)
    assert {k: getattr(cfg, k) for k in expected} == expected


@pytest.mark.parametrize("argv,message", [
    (["generate", "--env", "tabletop"], "sf generate: error: the following arguments are required: --out, "
                                        "--episodes-per-task"),
    (["teacher", "cache", "--dataset", "D", "--teacher", "nope", "--layer", "1"],
     "sf teacher cache: error: --teacher 'nope': expected one of ['dinov2', 'mini2d', 'mini3d', 'oracle3d', "
     "'siglip', 'vggt']"),
    (["teacher", "pretrain", "--teacher", "vit2d", "--out", "o", "--vla", "[1]"],
     "sf teacher pretrain: error: argument --vla: expected a JSON object, got '[1]'"),
    (["teacher", "inspect", "--dataset", "D", "--teacher", "mini3d", "--target-norm", "x"],
     "sf teacher inspect: error: --target-norm 'x': expected one of"),
    (["teacher", "keys", "dinov2"], "sf teacher keys: error: 'dinov2' has no key map; only 'vggt' is supported"),
])
def test_bad_options_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not list(tmp_path.iterdir())
