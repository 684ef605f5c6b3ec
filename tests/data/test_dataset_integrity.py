"""Damaged frame data and info.json shapes that disagree with the data: one-line SFErrors naming the file."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.data.writer import LeRobotWriter
from spatial_forcing.utils.errors import SFError

DATA = "data/chunk-000/file-000.parquet"


def _one_line(err: SFError, *names: str) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    for name in names:
        assert name in msg, (name, msg)
    return msg


def _damage_image(path, key: str, row: int, cut: int | None = None, junk: bytes | None = None) -> None:
    """Rewrite one image cell of a data parquet file: its PNG bytes cut to `cut` bytes, or `junk`."""
    table = pq.read_table(path)
    cells = table.column(key).to_pylist()
    data = cells[row]["bytes"]
    cells[row] = {**cells[row], "bytes": junk if junk is not None else data[:cut]}
    column = pa.array(cells, type=table.schema.field(key).type)
    pq.write_table(table.set_column(table.schema.get_field_index(key), key, column), path)


@pytest.mark.parametrize("cut, junk", [(40, None), (0, None), (None, b"not a png at all")])
def test_corrupt_png_bytes_name_file_key_and_frame(tiny, cut, junk):
    root, _ = tiny
    key = fmt.image_key("agentview")
    _damage_image(root / DATA, key, row=6, cut=cut, junk=junk)
    r = LeRobotDatasetReader(root)  # metadata and numeric columns still load
    assert r.frame(5)[key].shape == (12, 12, 3)
    for read in (lambda: r.frame(6), lambda: r.images(key), lambda: r.images(key, [1])):
        with pytest.raises(SFError) as err:
            read()
        _one_line(err.value, str(root / DATA), repr(key), "frame 6")


def test_corrupt_png_bytes_stop_training_data_loading(tiny):
    from spatial_forcing.data.chunk_dataset import ChunkDataset

    root, _ = tiny
    _damage_image(root / DATA, fmt.image_key("wrist"), row=2, cut=60)
    with pytest.raises(SFError) as err:
        ChunkDataset(root, chunk=4, image_size=8)
    _one_line(err.value, str(root / DATA), fmt.image_key("wrist"), "frame 2")


def _declare(root, key: str, shape: list[int]) -> None:
    info_path = root / fmt.INFO_PATH
    info = json.loads(info_path.read_text())
    info["features"][key]["shape"] = shape
    info_path.write_text(json.dumps(info))


@pytest.mark.parametrize("key, shape, found", [(fmt.STATE_KEY, [9], "[8]"), (fmt.ACTION_KEY, [7, 1], None),
                                               (fmt.ACTION_KEY, [1], "[7]")])
def test_vector_shape_in_info_json_is_checked_at_load(tiny, key, shape, found):
    root, _ = tiny
    _declare(root, key, shape)
    with pytest.raises(SFError) as err:
        LeRobotDatasetReader(root)
    _one_line(err.value, str(root / fmt.INFO_PATH), repr(key), str(shape), *([found] if found else []))


@pytest.mark.parametrize("shape", [[16, 12, 3], [3, 12, 16]])
def test_image_shape_in_info_json_is_checked_on_first_decode(tiny, shape):
    root, _ = tiny
    key = fmt.image_key("wrist")
    _declare(root, key, shape)
    r = LeRobotDatasetReader(root)
    with pytest.raises(SFError) as err:
        r.frame(0)
    _one_line(err.value, str(root / fmt.INFO_PATH), repr(key), str(shape), "[12, 12, 3]")


def test_image_shape_declared_channels_first_is_accepted(tiny):
    root, _ = tiny
    key = fmt.image_key("wrist")
    _declare(root, key, [3, 12, 12])
    assert LeRobotDatasetReader(root).frame(0)[key].shape == (12, 12, 3)


def test_array_shape_in_info_json_is_checked(tmp_path):
    features = {fmt.STATE_KEY: fmt.vector_feature(2), fmt.ACTION_KEY: fmt.vector_feature(2),
                "observation.depth.a": fmt.array_feature((4, 5))}
    with LeRobotWriter(tmp_path / "ds", 10, features) as w:
        for _ in range(3):
            w.add_frame({fmt.STATE_KEY: np.zeros(2), fmt.ACTION_KEY: np.zeros(2),
                         "observation.depth.a": np.ones((4, 5), np.float32)})
        w.save_episode("t")
        root = w.finalize()
    _declare(root, "observation.depth.a", [5, 4])
    with pytest.raises(SFError) as err:
        LeRobotDatasetReader(root)
    _one_line(err.value, str(root / fmt.INFO_PATH), "'observation.depth.a'", "[5, 4]", "[4, 5]")
