"""`sf expert-check` on a tiny range writes the JSON report."""

from __future__ import annotations

import json

from spatial_forcing.cli.main import main
from spatial_forcing.sim.expert_check import check_expert, make_jobs


def test_expert_check_json(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["expert-check", "--env", "tabletop", "--out", str(out), "--init-states", "3-4",
                 "--tasks", "1,5"]) == 0
    report = json.loads(out.read_text())
    assert report["per_task"] == {"right_of_cylinder": 1.0, "on_short_box": 1.0}
    assert report["min_success"] == 1.0 and report["episodes"] == 4 and report["init_states"] == "3-4"
    assert "right_of_cylinder" in capsys.readouterr().out


def test_expert_check_bad_range(tmp_path, capsys):
    assert main(["expert-check", "--env", "tabletop", "--out", str(tmp_path / "x.json"),
                 "--init-states", "10-60"]) == 2
    assert "--init-states 10-60: tabletop has only 50 initial states" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_jobs():
    jobs = make_jobs("tabletop", [0, 1], list(range(10)), workers=4)
    assert len(jobs) == 4 and sorted(i for j in jobs for i in j[2]) == sorted(list(range(10)) * 2)


def test_check_expert_is_a_library_call():
    report = check_expert("tabletop", tasks=[1], init_states=[3, 5], episodes_per_task=1)
    assert report["episodes"] == 1 and report["init_states"] == "3"
    assert report["per_task"] == {"right_of_cylinder": 1.0} and report["max_steps"]["right_of_cylinder"] > 0
