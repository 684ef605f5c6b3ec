"""One parser for id lists ('3', '0-49', '0-4,7'): every option that takes ids rejects the same mistakes
with one line naming the option."""

import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import format_int_ranges, parse_int_ranges


def test_syntax():
    assert parse_int_ranges("0-49") == list(range(50))
    assert parse_int_ranges("7") == [7] and parse_int_ranges(" 0-2, 7 ,") == [0, 1, 2, 7]
    assert parse_int_ranges("", allow_empty=True) == []
    for ids in ([0, 1, 2, 3, 7], [5], [], [3, 1, 2], [0, 2, 4]):
        assert parse_int_ranges(format_int_ranges(ids), allow_empty=True) == ids
    assert format_int_ranges([0, 1, 2, 3, 7]) == "0-3,7"


@pytest.mark.parametrize("text, reason", [
    ("5-2", "5-2 is a reversed range"), ("", "no ids"), ("-1", "expected ids like"), ("a", "expected ids like"),
    ("1-2-3", "expected ids like"), ("0-3,2", r"ids \[2\] given more than once"), ("1.5", "expected ids like"),
])
def test_mistakes_name_the_option(text, reason):
    with pytest.raises(SFError, match=rf"^--init-states '{text}': {reason}"):
        parse_int_ranges(text, "--init-states")


@pytest.mark.parametrize("argv", [
    ["eval", "tabletop", "--policy", "p", "--out", "o.json", "--init-states", "5-2"],
    ["generate", "--env", "tabletop", "--out", "d", "--episodes-per-task", "1", "--init-states", "5-2"],
    ["expert-check", "--env", "tabletop", "--out", "x.json", "--init-states", "5-2"],
])
def test_every_command_gives_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "argument --init-states: '5-2': 5-2 is a reversed range" in err
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())  # nothing written, not even NaN


def test_tasks_use_it_too(tmp_path, capsys):
    assert main(["expert-check", "--env", "tabletop", "--out", str(tmp_path / "x.json"), "--tasks", "1,x"]) == 2
    assert "argument --tasks: '1,x': expected ids like" in capsys.readouterr().err
