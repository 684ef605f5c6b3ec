import json

from spatial_forcing.demo import DemoConfig, run_demo


def test_demo_end_to_end_at_toy_scale(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), tasks=[0, 1], episodes_per_task=2, steps=6, vla_preset="tiny",
                     teacher_weights="random", eval_init_states=[0])
    res = run_demo(cfg)
    saved = json.loads((tmp_path / "demo" / "demo.json").read_text())
    for name in ("baseline", "spatial_forcing"):
        assert 0.0 <= saved[name]["success_rate"] <= 1.0
        assert set(saved[name]["per_task"]) == {"left_of_cylinder", "right_of_cylinder"}
        assert "picked" in saved[name]["subgoal_rates"]
    assert saved["spatial_forcing"]["final_align_cos"] is not None and saved["baseline"]["final_align_cos"] is None
    assert res["wall_s"] > 0 and (tmp_path / "demo" / "demo.png").stat().st_size > 0
    # the exported SF student carries no projector: same tensors as the baseline's
    from safetensors import safe_open

    keys = {}
    for name in ("baseline", "spatial_forcing"):
        with safe_open(str(tmp_path / "demo" / name / "policy" / "model.safetensors"), "pt") as f:
            keys[name] = set(f.keys())
    assert keys["baseline"] == keys["spatial_forcing"]
