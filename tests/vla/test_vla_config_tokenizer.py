"""SmallVLAConfig validation / serialisation and the word tokenizer."""

from __future__ import annotations

import json

import pytest
import torch

from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import SmallVLAConfig, config_from_dict, config_to_dict, preset
from spatial_forcing.vla.tokenizer import WordTokenizer, split_words


@pytest.mark.parametrize("name", ["tiny", "demo", "small"])
def test_presets_roundtrip_through_json(name):
    config = preset(name, head="flow")
    again = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert again == config
    assert config.image_size % config.patch_size == 0


def test_default_config_grid_and_mlp():
    config = SmallVLAConfig().validate()
    assert config.grid == (8, 8)  # 64 px at patch 8
    assert config.mlp_dim == 4 * config.llm_dim
    assert config.num_action_slots == config.chunk * config.action_dim
    assert SmallVLAConfig(action_slots="per_step").num_action_slots == config.chunk


@pytest.mark.parametrize("field,value,needle", [
    ("patch_size", 7, "patch_size"),
    ("llm_heads", 3, "llm_heads"),
    ("head", "mse", "head"),
    ("action_query", "random", "action_query"),
    ("action_slots", "per_token", "action_slots"),
    ("chunk", 0, "chunk"),
    ("dropout", 1.5, "dropout"),
])
def test_bad_config_raises_sferror_naming_field(field, value, needle):
    with pytest.raises(SFError, match=needle):
        SmallVLAConfig(**{field: value}).validate()


def test_unknown_field_and_preset_raise():
    with pytest.raises(SFError, match="unknown field"):
        config_from_dict({**config_to_dict(SmallVLAConfig()), "bogus": 1})
    with pytest.raises(SFError, match="preset"):
        preset("huge")
    with pytest.raises(SFError, match=r"vla: unknown field\(s\) \['bogus'\]"):
        preset("demo", bogus=1)  # what `sf train --vla '{"bogus": 1}'` passes


def test_split_words_lowercases_and_splits_punctuation():
    assert split_words("Push the Button, then STOP!") == ["push", "the", "button", ",", "then", "stop", "!"]


def test_encode_pads_truncates_and_maps_unknown(tokenizer):
    ids, mask = tokenizer.encode(["put the bowl on the plate", "open the GIANT drawer " * 3], max_len=8)
    assert ids.shape == mask.shape == (2, 8) and mask.dtype == torch.bool
    assert mask[0].tolist() == [True] * 6 + [False] * 2
    assert (ids[0, 6:] == tokenizer.pad_id).all()
    assert mask[1].all()  # truncated to 8
    assert ids[1, 2].item() == tokenizer.unk_id  # "giant" is not in the vocabulary
    assert tokenizer.decode(ids[0].tolist()) == "put the bowl on the plate"
    assert {tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id} == {0, 1, 2}


def test_tokenizer_json_roundtrip(tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    loaded = WordTokenizer.load(path)
    assert loaded.vocab == tokenizer.vocab
    assert WordTokenizer.from_json(tokenizer.to_json()).vocab == tokenizer.vocab
    with pytest.raises(SFError, match="tokenizer"):
        WordTokenizer.from_json('{"vocab": ["a"]}')
    with pytest.raises(SFError, match="does not exist"):
        WordTokenizer.load(tmp_path / "missing.json")


def test_build_is_deterministic():
    a = WordTokenizer.build(["b a", "c"])
    b = WordTokenizer.build(["c", "a b"])
    assert a.vocab == b.vocab
