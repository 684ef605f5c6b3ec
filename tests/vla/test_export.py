"""The exported policy (vla.export): one module writes and reads it; every broken file is a one-line SFError
naming it, and non-finite weights are never written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.stats import vector_stats
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla import export
from spatial_forcing.vla.config import config_to_dict, tiny
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer


def _parts():
    torch.manual_seed(0)
    tokenizer = WordTokenizer.build(["pick up the block"])
    config = tiny()
    rng = np.random.default_rng(0)
    stats = {"action": vector_stats(rng.normal(size=(50, 7))),
             "observation.state": vector_stats(rng.normal(size=(50, 8)))}
    return build_policy(config, tokenizer), config, tokenizer, Normalizer(stats).state_dict()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, config, tokenizer, normalizer = _parts()
    out = tmp_path_factory.mktemp("export") / "policy"
    return export.export_policy(out, model, config_to_dict(config), tokenizer.to_json(), normalizer,
                                {"cameras": ["agentview", "wrist"], "crop_scale": 0.9})


@pytest.fixture
def copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "policy")


def test_round_trip_through_the_one_owner(exported):
    names = [export.MODEL_FILE, export.CONFIG_FILE, export.TOKENIZER_FILE, export.NORMALIZER_FILE,
             export.INFO_FILE]
    assert sorted(p.name for p in exported.iterdir()) == sorted(names)
    model = _parts()[0]
    loaded = LoadedPolicy.load(exported)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    assert loaded.crop_scale == 0.9 and loaded.cameras == ["agentview", "wrist"]


def _corrupt_weights(p):
    data = (p / export.MODEL_FILE).read_bytes()
    (p / export.MODEL_FILE).write_bytes(data[: len(data) // 2])


def _edit_json(name, change):
    def edit(p):
        data = json.loads((p / name).read_text())
        change(data)
        (p / name).write_text(json.dumps(data))
    return edit


@pytest.mark.parametrize("breakage,message", [
    (_corrupt_weights, r"model\.safetensors: corrupt or truncated policy weights"),
    (lambda p: (p / export.TOKENIZER_FILE).unlink(), r"tokenizer\.json: file not found"),
    (_edit_json(export.CONFIG_FILE, lambda c: c.update(llm_dim=128)),
     r"model\.safetensors does not fit vla\.json and tokenizer\.json beside it: size mismatch"),
    (_edit_json(export.CONFIG_FILE, lambda c: c.update(colour="red")),
     r"vla\.json: .*unknown field\(s\) \['colour'\]"),
    (_edit_json(export.NORMALIZER_FILE, lambda n: n["stats"]["action"].update(q01=[0.0] * 6)),
     r"normalizer\.json: 'action' q01/q99 must be two vectors of one length"),
    (_edit_json(export.NORMALIZER_FILE, lambda n: n["stats"]["action"]["q99"].__setitem__(0, None)),
     r"normalizer\.json: 'action' q01/q99 hold NaN"),
    (lambda p: (p / export.INFO_FILE).write_text("{"), r"info\.json: invalid JSON"),
])
def test_a_broken_policy_file_is_a_one_line_error_naming_it(copy, breakage, message):
    breakage(copy)
    with pytest.raises(SFError, match=message) as err:
        LoadedPolicy.load(copy)
    assert "\n" not in str(err.value)


def test_non_finite_weights_are_never_exported(exported, tmp_path):
    model, config, tokenizer, normalizer = _parts()
    out = shutil.copytree(exported, tmp_path / "policy")
    before = (out / export.MODEL_FILE).read_bytes()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(SFError, match="refusing to write policy weights .* hold NaN or inf"):
        export.export_policy(out, model, config_to_dict(config), tokenizer.to_json(), normalizer)
    assert (out / export.MODEL_FILE).read_bytes() == before  # the previous export is intact
    assert not list(tmp_path.glob(".policy.*"))  # and no half-written directory is left
