"""`sf probe` end to end on a tiny --record-geometry tabletop dataset and a 2-step tiny student."""

from __future__ import annotations

import json

import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.data.generate import generate_dataset


@pytest.fixture(scope="module")
def geometry_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    data = generate_dataset("tabletop", root / "geo", episodes_per_task=2, image_size=32, tasks=[0, 1],
                            record_geometry=True).root
    run = root / "run"
    assert main(["train", "--dataset", str(data), "--out", str(run), "--vla-preset", "tiny", "--steps", "2",
                 "--batch-size", "4", "--warmup-steps", "1", "--threads", "1", "--targets", "online",
                 "--teacher-weights", "random", "--align.layers", "2"]) == 0
    return data, run


def test_sf_probe_writes_depth_and_object_results(geometry_run, tmp_path, capsys):
    data, run = geometry_run
    out = tmp_path / "probe"
    assert main(["probe", "--policy", str(run / "policy"), "--dataset", str(data), "--out", str(out),
                 "--stride", "2", "--steps", "20", "--size", "16", "--examples", "2"]) == 0
    assert "AbsRel" in capsys.readouterr().out
    result = json.loads((out / "probe.json").read_text())
    assert result["layer"] == 2 and result["layers"] == [1, 1, 1, 2]  # the run's aligned layer, clipped at 1
    assert result["spatial_forcing"] is True and result["grid"] == [4, 4]
    assert result["episodes"] == {"train": 3, "test": 1} and result["frames"]["test"] > 0
    for split in ("train", "test", "test_mean_depth"):
        metrics = result["depth"][split]
        assert metrics["abs_rel"] > 0 and 0 <= metrics["delta1"] <= 1 and metrics["pixels"] > 0
    assert result["abs_rel"] == result["depth"]["test"]["abs_rel"]
    objects = result["objects"]
    assert set(objects["r2_by_layer"]) == {"1", "2"} and objects["r2"] == objects["r2_by_layer"]["2"]
    assert objects["columns"] and all(c.endswith((".x", ".y", ".z")) for c in objects["columns"])
    assert (out / "probe.png").stat().st_size > 1000


def test_sf_probe_refuses_a_dataset_without_depth_in_one_line(geometry_run, synthetic_dataset, tmp_path, capsys):
    _, run = geometry_run
    code = main(["probe", "--policy", str(run / "policy"), "--dataset", str(synthetic_dataset), "--out",
                 str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert str(synthetic_dataset) in err and "generate the dataset with --record-geometry" in err
    assert not (tmp_path / "p").exists()
    assert main(["probe", "--policy", f"{tmp_path}:3", "--dataset", str(synthetic_dataset), "--out",
                 str(tmp_path / "p")]) == 2
    assert "train_config.json not found" in capsys.readouterr().err


def test_frame_images_returns_the_frames_in_the_order_asked(geometry_run):
    import numpy as np

    from spatial_forcing.data.reader import LeRobotDatasetReader
    from spatial_forcing.probe.tokens import frame_images

    reader = LeRobotDatasetReader(geometry_run[0])
    frames = np.array([reader.num_frames - 1, 3, reader.num_frames // 2, 0])  # across episodes, unsorted
    got = frame_images(reader, ["agentview", "wrist"], frames)
    for cam in ("agentview", "wrist"):
        want = np.stack([reader.frame(int(i))[f"observation.images.{cam}"] for i in frames])
        assert np.array_equal(got[cam], want), cam
