"""Numeric training options are checked up front: one line naming the option, nothing written. Before, NaN
or inf trained to exit 0 with NaN weights and a negative --grad-clip silently meant no clipping."""

from __future__ import annotations

import pytest

from spatial_forcing.cli.main import main


@pytest.mark.parametrize("option,value,message", [
    ("--lr", "nan", "--lr must be a finite number > 0, got nan"),
    ("--lr", "inf", "--lr must be a finite number > 0, got inf"),
    ("--lr", "-1", "--lr must be a finite number > 0, got -1.0"),
    ("--lr", "0", "--lr must be a finite number > 0, got 0.0"),
    ("--weight-decay", "nan", "--weight-decay must be a finite number >= 0, got nan"),
    ("--weight-decay", "-0.1", "--weight-decay must be a finite number >= 0, got -0.1"),
    ("--grad-clip", "-1", "--grad-clip must be a finite number >= 0 (0 = no clipping), got -1.0"),
    ("--grad-clip", "inf", "--grad-clip must be a finite number >= 0 (0 = no clipping), got inf"),
    ("--align.alpha", "nan", "align.alpha must be a finite number >= 0, got nan"),
    ("--align.alpha", "-0.5", "align.alpha must be a finite number >= 0, got -0.5"),
    ("--align.shift", "-5", "align.shift must be >= 0, got -5"),
])
def test_bad_numeric_option_is_one_line_naming_it(synthetic_dataset, tmp_path, capsys, tiny_train_args,
                                                  option, value, message):
    out = tmp_path / "run"
    assert main(tiny_train_args(synthetic_dataset, out, option, value)) == 2
    assert capsys.readouterr().err == f"sf train: error: {message}\n"
    assert not out.exists()

