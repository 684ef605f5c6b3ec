import json

from safetensors import safe_open

from spatial_forcing.demo import DemoConfig, run_demo


def test_demo_end_to_end_at_toy_scale(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), tasks=[0, 1], episodes_per_task=1, image_size=32, steps=4,
                     vla_preset="tiny", vla={}, teacher_weights="random", curve_every=2, curve_init_states=[0],
                     eval_init_states=[1], target_norm="position_mean")
    res = run_demo(cfg)
    saved = json.loads((tmp_path / "demo" / "demo.json").read_text())
    for name in ("baseline", "spatial_forcing"):
        assert 0.0 <= saved[name]["success_rate"] <= 1.0
        assert set(saved[name]["per_task"]) == {"left_of_cylinder", "right_of_cylinder"}
        assert "picked" in saved[name]["subgoal_rates"] and saved[name]["episodes"] == 2
        assert saved[name]["curve"]["steps"] == [2, 4]
    sf, base = saved["spatial_forcing"], saved["baseline"]
    assert all(sf[k] is not None for k in ("align_cos", "position_only_cos", "residual_cos"))
    assert all(base[k] is None for k in ("align_cos", "position_only_cos", "residual_cos"))
    assert saved["target"]["target_norm"] == "position_mean" and saved["target"]["teacher"] == "mini3d"
    assert res["wall_s"] > 0 and (tmp_path / "demo" / "demo.png").stat().st_size > 0
    # the exported SF student carries no projector: same tensors as the baseline's
    keys = {}
    for name in ("baseline", "spatial_forcing"):
        with safe_open(str(tmp_path / "demo" / "runs" / name / "seed0" / "policy" / "model.safetensors"), "pt") as f:
            keys[name] = set(f.keys())
    assert keys["baseline"] == keys["spatial_forcing"]
