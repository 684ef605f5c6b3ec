"""Broken normalisation stats (meta/stats.json) are refused when loaded, with one line naming the file:
before, NaN stats trained a NaN policy without any error and a wrong length failed deep inside torch."""

from __future__ import annotations

import json

import pytest

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.stats import vector_stats
from spatial_forcing.utils.errors import SFError


def _edit_stats(root, change):
    path = root / fmt.STATS_PATH
    stats = json.loads(path.read_text())
    change(stats)
    path.write_text(json.dumps(stats))  # json writes float("nan") as NaN, which json.loads reads back


@pytest.mark.parametrize("change,message", [
    (lambda s: s["action"]["q01"].__setitem__(2, float("nan")), r"'action' q01/q99 hold NaN, inf or null"),
    (lambda s: s["observation.state"]["q99"].__setitem__(0, None), r"'observation.state' q01/q99 hold NaN"),
    (lambda s: s["action"]["q99"].__setitem__(0, float("inf")), r"'action' q01/q99 hold NaN, inf"),
    (lambda s: s["action"].update(q01=s["action"]["q01"][:5], q99=s["action"]["q99"][:5]),
     r"'action' stats have 5 values, but the data has 7"),
    (lambda s: s["action"].update(q01=s["action"]["q01"][:5]), r"'action' q01/q99 must be two vectors"),
    (lambda s: s["action"].update(q01="low"), r"'action' q01/q99 are not lists of numbers"),
])
def test_broken_stats_json_is_a_one_line_error_naming_it(tiny, change, message):
    root, _ = tiny
    _edit_stats(root, change)
    with pytest.raises(SFError, match=message) as err:
        ChunkDataset(root, chunk=4)
    text = str(err.value)
    assert text.startswith(str(root / fmt.STATS_PATH)) and "delete it to recompute" in text
    assert "\n" not in text


def test_stats_json_without_the_vectors_is_still_recomputed_from_the_data(tiny):
    root, _ = tiny
    _edit_stats(root, lambda s: s.pop("action"))
    assert ChunkDataset(root, chunk=4).normalizer.dim("action") == 7


def test_normalizer_names_its_source():
    stats = {"action": vector_stats([[0.0, 1.0], [1.0, 2.0]]),
             "observation.state": {"q01": [0], "q99": [None]}}
    with pytest.raises(SFError, match=r"^policy/normalizer.json: 'observation.state' q01/q99 hold NaN"):
        Normalizer(stats, source="policy/normalizer.json")
    with pytest.raises(SFError, match=r"^x.json: expected a JSON object with stats, mode and keys"):
        Normalizer.from_state_dict([1, 2], source="x.json")


def test_a_file_given_as_dataset_is_named_as_a_file(tmp_path):
    path = tmp_path / "episodes.parquet"
    path.write_bytes(b"")
    with pytest.raises(SFError, match=r"episodes\.parquet is a file, expected a dataset directory"):
        ChunkDataset(path)
