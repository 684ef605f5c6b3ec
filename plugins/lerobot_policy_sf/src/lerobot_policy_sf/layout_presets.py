"""Token layouts of known policies for the generic `sf` wrapper (`--policy.layout_preset`)."""

from __future__ import annotations

import math

from spatial_forcing.core.layout import TokenLayout

RESNET_STRIDES = 5  # torchvision ResNets halve the image 5 times (conv1, maxpool, layer2..4), rounding up


def act_preset(base) -> dict:
    """ACT: the transformer encoder's stream [T, B, D] = latent, [state], [env state], then per camera the
    backbone's feature map (h*w tokens, row-major). Aligned layer k = the output of encoder layer k."""
    _, height, width = next(iter(base.image_features.values())).shape
    h, w = height, width
    for _ in range(RESNET_STRIDES):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    offset = 1 + (base.robot_state_feature is not None) + (base.env_state_feature is not None)
    return {"layer_path": "model.encoder.layers.{i}", "num_layers": base.n_encoder_layers,
            "capture": "output", "sequence_first": True, "token_offset": offset, "token_grid": [h, w],
            "token_stride": 0, "token_dim": base.dim_model}


PRESETS = {"act": act_preset}


def resolve(config) -> dict:
    """The layout fields of an SFConfig: its preset's (if any), else its own."""
    names = ("layer_path", "num_layers", "capture", "sequence_first", "token_offset", "token_grid",
             "token_stride", "token_dim")
    preset = config.layout_preset
    if preset == "auto":
        preset = config.base_type if config.base_type in PRESETS and not config.layer_path else ""
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"sf: --policy.layout_preset {preset!r}: expected one of "
                             f"{sorted(PRESETS)}, 'auto' or ''")
        if config.base_type != preset:
            raise ValueError(f"sf: --policy.layout_preset {preset!r} is for that policy type, "
                             f"but --policy.base_type is {config.base_type!r}")
        return PRESETS[preset](config.base_config)
    values = {n: getattr(config, n) for n in names}
    sizes = (values["num_layers"], values["token_dim"], *values["token_grid"])
    if not values["layer_path"] or min(sizes) < 1:
        raise ValueError(f"sf: no token layout for --policy.base_type {config.base_type!r} (presets: "
                         f"{sorted(PRESETS)}): give --policy.layer_path, --policy.num_layers, "
                         "--policy.token_grid=[h,w] and --policy.token_dim (and token_offset) of the wrapped "
                         "policy")
    return values


def layout_of(values: dict, views: int) -> TokenLayout:
    return TokenLayout(views=views, grid=tuple(values["token_grid"]), offset=values["token_offset"],
                       stride=values["token_stride"] or None)
