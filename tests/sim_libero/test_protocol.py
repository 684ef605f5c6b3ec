"""LIBERO evaluation protocol constants."""

from __future__ import annotations

from spatial_forcing.sim.libero.protocol import PRESETS, LiberoProtocol


def test_full_preset_matches_reference():
    p = PRESETS["full"]
    assert p.num_trials_per_task == 50 and p.seed == 7 and p.num_steps_wait == 10
    assert p.dummy_action == (0, 0, 0, 0, 0, 0, -1)
    assert p.max_steps_table == {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300,
                                 "libero_10": 520}
    assert "run_libero_eval.py" in p.max_steps_source and p.open_loop_chunk
    assert len(p.episodes()) == 500 and p.episodes()[:2] == [(0, 0), (0, 1)]


def test_reduced_and_variants():
    r = PRESETS["reduced"]
    assert len(r.episodes()) == 50 and {i for _, i in r.episodes()} == set(range(5))
    assert r.for_suite("libero_object").max_steps == 280
    lerobot = LiberoProtocol().with_lerobot_max_steps()
    assert lerobot.max_steps == 280 and "lerobot" in lerobot.max_steps_source.lower()
