"""`SFPolicy`: a LeRobot policy (`self.base`) whose training forward adds alpha x the SF alignment loss on the
image tokens of a chosen layer. Inference is the wrapped policy's, unchanged; `sf export --lerobot` writes the
wrapped policy alone as a stock checkpoint of its type."""

from __future__ import annotations

import torch
from lerobot.policies.factory import get_policy_class
from lerobot.policies.pretrained import PreTrainedPolicy

from lerobot_policy_sf.branch import SFBranch
from lerobot_policy_sf.configuration_sf import SFConfig
from lerobot_policy_sf.layout_presets import layout_of, resolve
from lerobot_policy_sf.losses import add_align_loss
from spatial_forcing.core.capture import TokenCapture


class SequenceFirstCapture(TokenCapture):
    """TokenCapture of [T, B, D] streams, handed out as [B, T, D]."""

    def pop(self):
        return {k: v.transpose(0, 1) for k, v in super().pop().items()}


class SFPolicy(PreTrainedPolicy):
    config_class = SFConfig
    name = "sf"

    def __init__(self, config: SFConfig, **kwargs):
        super().__init__(config)
        self.config = config
        self.base = get_policy_class(config.base_type)(config.base_config, **kwargs)
        self.sf = None
        if not config.align.enabled:
            return
        values = resolve(config)
        layers = config.align.resolve_layers(values["num_layers"])
        self.sf = SFBranch(config.align, config.teacher_weights, values["token_dim"], layers,
                           config.align_log_every)
        paths = {k: values["layer_path"].format(i=k - 1) for k in layers}
        capture_cls = SequenceFirstCapture if values["sequence_first"] else TokenCapture
        self.sf.sf.capture = capture_cls(self.base, paths, kind=values["capture"])
        self.sf.sf.set_layout(layout_of(values, views=len(config.image_features)))

    def teacher_images(self, batch: dict) -> torch.Tensor:
        """[B, V, 3, H, W] in [0, 1]: the wrapped policy's cameras in its order (VISUAL normalisation is
        IDENTITY)."""
        keys = self.config.image_features
        images = [batch[k][:, -1] if batch[k].ndim == 5 else batch[k] for k in keys]
        return torch.stack(images, 1).float().clamp(0, 1)

    def forward(self, batch, *args, **kwargs):
        loss, info = self.base.forward(batch, *args, **kwargs)
        if self.sf is None:
            return loss, info
        align_loss, metrics = self.sf.loss(self.teacher_images(batch), None)
        total, info = add_align_loss(loss, info, align_loss, metrics, self.config.align.alpha)
        self.sf.log(info)
        return total, info

    def _inference(self, method: str, *args, **kwargs):
        try:
            return getattr(self.base, method)(*args, **kwargs)
        finally:
            if self.sf is not None:
                self.sf.clear()

    def select_action(self, batch, *args, **kwargs):
        return self._inference("select_action", batch, *args, **kwargs)

    def predict_action_chunk(self, batch, *args, **kwargs):
        return self._inference("predict_action_chunk", batch, *args, **kwargs)

    def reset(self):
        self.base.reset()

    def get_optim_params(self):
        """The wrapped policy's parameter groups (e.g. ACT's backbone group) plus one for the projector."""
        groups = self.base.get_optim_params()
        extra = [] if self.sf is None else [p for p in self.sf.parameters() if p.requires_grad]
        if isinstance(groups, (list, tuple)) and groups and isinstance(groups[0], dict):
            return [*groups, {"params": extra}] if extra else list(groups)
        return [*groups, *extra]
