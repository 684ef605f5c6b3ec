"""`SmolVLASFPolicy`: SmolVLA whose training forward adds alpha x the SF alignment loss. Inference
(`select_action`, `predict_action_chunk`) is SmolVLA's, unchanged: the teacher and projector are unused
there and an export (`sf export --lerobot`) drops them."""

from __future__ import annotations

import logging

from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
from torch import Tensor

from lerobot_policy_sf.branch import SFBranch
from lerobot_policy_sf.configuration_smolvla_sf import SmolVLASFConfig
from lerobot_policy_sf.losses import add_align_loss
from lerobot_policy_sf.smolvla_layout import image_layout, stream_paths, teacher_images

log = logging.getLogger(__name__)


class SmolVLASFPolicy(SmolVLAPolicy):
    config_class = SmolVLASFConfig
    name = "smolvla_sf"

    def __init__(self, config: SmolVLASFConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.sf = None
        if not config.align.enabled:
            return
        vlm = self.model.vlm_with_expert
        num_layers = vlm.num_vlm_layers
        layers = config.align.resolve_layers(num_layers)
        self.sf = SFBranch(config.align, config.teacher_weights, vlm.config.text_config.hidden_size, layers,
                           config.align_log_every)
        views = len(config.image_features)
        layout = image_layout(vlm.config, config, views)
        self.sf.attach(self, stream_paths(layers, num_layers), layout, "input")
        text = vlm.get_vlm_model().text_model
        trainable = [i for i, layer in enumerate(text.layers[:max(layers)])
                     if any(p.requires_grad for p in layer.parameters())]
        if len(trainable) < max(layers):
            frozen = sorted(set(range(max(layers))) - set(trainable))
            raise ValueError(f"smolvla_sf: VLM layers {frozen} are frozen but feed the aligned layer(s) "
                             f"{layers}")
        log.info("smolvla_sf: aligning the VLM stream after layer(s) %s of %d to teacher %s; VLM layers "
                 "1..%d are trainable (train_expert_only=False)", layers, num_layers, config.align.teacher,
                 max(layers))

    def forward(self, batch: dict[str, Tensor], noise=None, time=None, reduction: str = "mean"):
        loss, info = super().forward(batch, noise=noise, time=time, reduction=reduction)
        if self.sf is None:
            return loss, info
        images, valid = teacher_images(batch, self.config)
        align_loss, metrics = self.sf.loss(images, valid)
        total, info = add_align_loss(loss, info, align_loss, metrics, self.config.align.alpha)
        self.sf.log(info)
        return total, info

    def predict_action_chunk(self, batch, noise=None, **kwargs):
        try:
            return super().predict_action_chunk(batch, noise=noise, **kwargs)
        finally:
            if self.sf is not None:
                self.sf.clear()

    def select_action(self, batch, noise=None, **kwargs):
        try:
            return super().select_action(batch, noise=noise, **kwargs)
        finally:
            if self.sf is not None:
                self.sf.clear()
