"""Config dataclasses as command-line options: list fields parse to their element type."""

from __future__ import annotations

import argparse

import pytest

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args


def test_list_fields_parse_to_their_element_type(capsys):
    parser = argparse.ArgumentParser(prog="sf eval")
    add_dataclass_args(parser, EvalConfig)
    args = parser.parse_args(["--wait-action", "0,0,0,0,0,0,-1.5", "--init-states", "0-2,7"])
    assert args.wait_action == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5]
    assert args.init_states == [0, 1, 2, 7]
    with pytest.raises(SystemExit):
        parser.parse_args(["--wait-action", "0,x"])
    assert "expected comma-separated numbers, got '0,x'" in capsys.readouterr().err
