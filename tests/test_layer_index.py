"""The one layer-index check: student layers 1..N, teacher layers -N..N-1, the same one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import decoder_layer, teacher_layer


def test_student_layers_are_one_based():
    assert [decoder_layer(k, 4) for k in (1, 4, np.int64(2), torch.tensor(3))] == [1, 4, 2, 3]
    for bad in (0, 5, -1, True, 2.0, "2", None):
        with pytest.raises(SFError, match=rf"^vla layer {bad!r} out of range; expected an integer in 1\.\.4$"):
            decoder_layer(bad, 4, "vla layer")


def test_teacher_layers_count_from_either_end():
    assert [teacher_layer(k, 4) for k in (0, 3, -1, -4)] == [0, 3, 3, 0]
    for bad in (4, -5, False, 1.5):
        with pytest.raises(SFError, match=rf"^mini3d layer {bad!r} out of range; expected an integer in -4\.\.3$"):
            teacher_layer(bad, 4, "mini3d layer")
