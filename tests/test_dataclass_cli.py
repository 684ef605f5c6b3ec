"""Config dataclasses as command-line options: list fields parse to their element type."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, overrides_from_args


def test_list_fields_parse_to_their_element_type(capsys):
    parser = argparse.ArgumentParser(prog="sf eval")
    add_dataclass_args(parser, EvalConfig)
    args = parser.parse_args(["--wait-action", "0,0,0,0,0,0,-1.5", "--init-states", "0-2,7"])
    assert args.wait_action == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5]
    assert args.init_states == [0, 1, 2, 7]
    with pytest.raises(SystemExit):
        parser.parse_args(["--wait-action", "0,x"])
    assert "expected comma-separated numbers, got '0,x'" in capsys.readouterr().err


@dataclasses.dataclass
class _Cmd:
    out: str  # required: no default
    name: str = "vggt"  # a positional argument with a default
    views: list[str] = dataclasses.field(default_factory=lambda: ["a", "b"])  # names
    extra: dict[str, int] = dataclasses.field(default_factory=dict)  # a JSON object


def test_required_positional_names_and_json(capsys):
    parser = argparse.ArgumentParser(prog="sf x")
    add_dataclass_args(parser, _Cmd, positional=("name",))
    assert overrides_from_args(parser.parse_args(["--out", "o"])) == {"out": "o"}  # defaults stay the config's
    got = overrides_from_args(parser.parse_args(["dino", "--out", "o", "--views", "a", "b,c", "--extra", '{"k": 1}']))
    assert got == {"name": "dino", "out": "o", "views": ["a", "b", "c"], "extra": {"k": 1}}
    for argv, message in ((["x"], "the following arguments are required: --out"),
                          (["--out", "o", "--extra", "[1]"], "argument --extra: expected a JSON object, got '[1]'"),
                          (["--out", "o", "--extra", "{"], "argument --extra: invalid JSON '{'")):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert message in capsys.readouterr().err
