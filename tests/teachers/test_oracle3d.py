"""oracle3d on synthetic geometry with a known answer: a tilted plane seen by two cameras, and background."""

from __future__ import annotations

import math

import pytest
import torch

from spatial_forcing.teachers.oracle3d import FAR_DEPTH, ONLINE_ERROR, Oracle3D, OracleConfig
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError

SIZE, FOCAL = 32, 30.0
K = torch.tensor([[FOCAL, 0.0, (SIZE - 1) / 2], [0.0, FOCAL, (SIZE - 1) / 2], [0.0, 0.0, 1.0]])
PLANE_N = torch.tensor([0.0, 0.6, -0.8])  # unit normal of the plane n.X = c (camera-0 frame), faces camera 0
PLANE_C = -1.6  # the plane passes through (0, 0, 2)


def _rays() -> torch.Tensor:
    v, u = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32),
                          indexing="ij")
    return torch.stack([u, v, torch.ones_like(u)], -1) @ torch.linalg.inv(K).T  # [H, W, 3], z = 1


def _plane_depth(cam_to_0: torch.Tensor) -> torch.Tensor:
    """z-depth [H, W] of the plane seen from a camera whose pose in camera 0's frame is `cam_to_0` [4, 4]."""
    rays0 = _rays() @ cam_to_0[:3, :3].T  # ray directions in frame 0 (camera z = 1)
    origin = cam_to_0[:3, 3]
    return (PLANE_C - PLANE_N @ origin) / (rays0 @ PLANE_N)


def _scene(batch: int = 1):
    """Two views of the plane: camera 0 at the world origin, camera 1 shifted by 0.2 m along x."""
    cam1_to_0 = torch.eye(4)
    cam1_to_0[0, 3] = 0.2
    depth = torch.stack([_plane_depth(torch.eye(4)), _plane_depth(cam1_to_0)])[None].repeat(batch, 1, 1, 1)
    extr = torch.stack([torch.eye(4), torch.linalg.inv(cam1_to_0)])[None].repeat(batch, 1, 1, 1)  # world = cam 0
    seg = torch.full((batch, 2, SIZE, SIZE), 4, dtype=torch.uint8)
    return depth, seg, K.expand(batch, 2, 3, 3), extr


def test_plane_points_normals_and_classes_are_exact():
    oracle = Oracle3D()
    depth, seg, intr, extr = _scene()
    seg[:, :, :, :16] = 1  # left half of every image: class 1, right half: class 4
    patches = oracle.patch_geometry(depth, seg, intr, extr)
    assert patches["points"].shape == (1, 2, 8, 8, 3)
    # view 0: pooled points are the patch means of the back-projection
    back = (_rays() * depth[0, 0, ..., None]).reshape(8, 4, 8, 4, 3).mean(dim=(1, 3))
    torch.testing.assert_close(patches["points"][0, 0], back, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(patches["depth"][0, 0], depth[0, 0].reshape(8, 4, 8, 4).mean(dim=(1, 3)))
    # both views: points in camera 0's frame lie on the plane (means of coplanar points are coplanar)
    torch.testing.assert_close(patches["points"] @ PLANE_N, torch.full((1, 2, 8, 8), PLANE_C), atol=1e-4, rtol=0)
    # the normal is the plane's, facing the cameras, the same in every patch of both views
    torch.testing.assert_close(patches["normal"], PLANE_N.expand(1, 2, 8, 8, 3), atol=1e-4, rtol=0)
    assert torch.all(patches["foreground"] == 1)
    assert torch.equal(patches["class"][0, 0, 0, 0], torch.eye(9)[1])
    assert torch.equal(patches["class"][0, 1, 5, 7], torch.eye(9)[4])


def test_encoding_is_an_isometry_of_balanced_groups():
    oracle = Oracle3D()
    depth, seg, intr, extr = _scene(batch=2)
    feats = oracle.features_from_geometry(depth, seg, intr, extr)
    assert feats.shape == (2, 2, 8, 8, 128) and feats.dtype == torch.float32
    raw = feats @ oracle.mix  # Q has orthonormal columns: the raw codes come back exactly
    torch.testing.assert_close(raw, oracle.encode(oracle.patch_geometry(depth, seg, intr, extr)), atol=1e-5,
                               rtol=1e-5)
    for name, part in oracle.groups.items():  # a pure foreground patch: every group has unit norm
        torch.testing.assert_close(raw[..., part].norm(dim=-1), torch.ones(2, 2, 8, 8), atol=1e-4, rtol=0)
    normal = raw[..., oracle.groups["normal"]]
    torch.testing.assert_close(normal, normal[0, 0, 0, 0].expand_as(normal), atol=1e-4, rtol=0)  # constant
    depth_code = raw[0, 0, 0, 0, oracle.groups["depth"]] * math.sqrt(oracle.cfg.num_freqs)
    phase = 2 * math.pi * depth[0, 0, :4, :4].mean() / oracle.wavelengths  # the first patch's mean depth
    torch.testing.assert_close(depth_code, torch.cat([phase.sin(), phase.cos()]), atol=1e-4, rtol=0)


def test_background_patches_get_one_fixed_far_code():
    oracle = Oracle3D()
    depth, seg, intr, extr = _scene()
    depth[:, :, :8] = FAR_DEPTH  # the top two patch rows see nothing (far plane), class 0
    seg[:, :, :8] = 0
    depth[:, 1, 12:16] = 3.9  # view 1: one more background band, farther than the far threshold too
    seg[:, 1, 12:16] = 0
    feats = oracle.features_from_geometry(depth, seg, intr, extr)
    far = feats[0, 0, 0, 0]
    torch.testing.assert_close(feats[:, :, :2], far.expand(1, 2, 2, 8, 128), atol=1e-6, rtol=0)
    torch.testing.assert_close(feats[:, 1, 3], far.expand(1, 8, 128), atol=1e-6, rtol=0)
    raw = far @ oracle.mix
    assert raw[oracle.groups["normal"]].abs().max() < 1e-6 and raw[oracle.groups["class"]].argmax() == 0
    assert not torch.allclose(feats[0, 0, 4, 4], far, atol=0.1)
    patches = oracle.patch_geometry(depth, seg, intr, extr)
    assert patches["foreground"][0, 0, 2, 0] == 1.0 and patches["normal"][0, 0, 2].norm(dim=-1).max() < 1.0
    torch.testing.assert_close(patches["normal"][0, 0, 2:].norm(dim=-1)[1:], torch.ones(5, 8), atol=1e-4, rtol=0)


def test_teacher_contract_and_errors():
    oracle = build_teacher("oracle3d", dim=64, pool=8)
    assert oracle.name == "oracle3d" and oracle.dim == 64 and oracle.num_layers == 1
    assert oracle.grid((64, 64)) == (8, 8) and not oracle.training
    depth, seg, intr, extr = _scene()
    assert oracle.features_from_geometry(depth, seg, intr, extr, grid=(2, 4)).shape == (1, 2, 2, 4, 64)
    with pytest.raises(SFError, match="^" + ONLINE_ERROR + "$"):
        oracle.forward_intermediates(torch.zeros(1, 2, 3, 32, 32), [0])
    with pytest.raises(SFError, match="oracle3d has no weights"):
        build_teacher("oracle3d", weights="model.pt")
    with pytest.raises(SFError, match="dim 32 is below its 60 raw channels"):
        build_teacher("oracle3d", dim=32)
    with pytest.raises(SFError, match="expected options among"):
        build_teacher("oracle3d", colour=1)
    a, b = Oracle3D(OracleConfig(seed=1)), Oracle3D(OracleConfig(seed=1))
    assert torch.equal(a.mix, b.mix) and not torch.equal(a.mix, Oracle3D().mix)  # fixed by the seed
