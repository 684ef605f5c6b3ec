"""Numerical match with the public VGGT reference Aggregator.

tests/fixtures/vggt_tiny_ref.safetensors holds a random tiny state_dict (embed 32, depth 3, 2 heads,
DINOv2 patch embed of 2 blocks with 4 registers), fixed inputs and the reference's outputs, computed on CPU
in fp32 by the Aggregator vendored in OpenHelix-Team/Spatial-Forcing (openvla-SF/vggt, commit 4e9f66c).
Input "a" is 56x70 (4x5 grid: pos_embed is resized, B=2, S=3), input "b" is 56x56 (pos_embed as is).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.config import AggregatorConfig
from spatial_forcing.teachers.vggt.loading import check_state, select_aggregator
from spatial_forcing.teachers.vggt.teacher import VGGTTeacher

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vggt_tiny_ref.safetensors"
# fp32 rounding only: outputs reach |24|, and another CPU's SIMD kernels sum in another order (seen here: 1.4e-5 on 3 of 9,600 values).
TOL = dict(atol=5e-5, rtol=0.0)


@pytest.fixture(scope="module")
def reference() -> tuple[Aggregator, dict[str, torch.Tensor]]:
    with safe_open(str(FIXTURE), "pt") as fh:
        cfg = AggregatorConfig.from_dict(json.loads(fh.metadata()["config"]))
    tensors = load_file(str(FIXTURE))
    state, _ = select_aggregator({k: v for k, v in tensors.items() if k.startswith("aggregator.")})
    model = Aggregator(cfg)
    check_state(model, state, str(FIXTURE))
    model.load_state_dict(state, strict=True)
    return model.eval(), tensors


@pytest.mark.parametrize("tag", ["a", "b"])
def test_all_layers_match_reference(reference, tag: str) -> None:
    model, tensors = reference
    with torch.no_grad():
        outs, start = model(tensors[f"input.{tag}"])
    assert start == 5
    assert len(outs) == model.cfg.depth
    for i, out in enumerate(outs):
        expected = tensors[f"output.{tag}.{i}"]
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected, **TOL)


def test_requested_layers_equal_full_run(reference) -> None:
    model, tensors = reference
    with torch.no_grad():
        outs = model.forward_layers(tensors["input.a"], [1])
    assert list(outs) == [1]
    torch.testing.assert_close(outs[1], tensors["output.a.1"], **TOL)


def test_teacher_output_is_reference_patch_tokens(reference) -> None:
    model, tensors = reference
    teacher = VGGTTeacher(model, image_size=56)
    images = tensors["input.b"]  # already 56x56: preprocessing is the identity
    feats = teacher.forward_intermediates(images, [0, -1])
    b, v = images.shape[:2]
    for feat, layer in zip(feats, (0, model.cfg.depth - 1)):
        expected = tensors[f"output.b.{layer}"][:, :, 5:].reshape(b, v, 4, 4, 64)
        assert feat.shape == (b, v, 4, 4, 64)
        torch.testing.assert_close(feat, expected, **TOL)
    frame = VGGTTeacher(model, image_size=56, mode="frame").forward_intermediates(images, [-1])[0]
    glob = VGGTTeacher(model, image_size=56, mode="global").forward_intermediates(images, [-1])[0]
    torch.testing.assert_close(torch.cat([frame, glob], -1), feats[1])
