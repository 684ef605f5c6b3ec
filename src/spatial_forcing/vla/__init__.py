"""VLA policy families behind the VLAPolicy protocol (vla.protocol).

Modules: config (SmallVLAConfig + presets tiny/demo/small), tokenizer (WordTokenizer), vit (ViTEncoder),
heads (L1Head, FlowHead), model (SmallVLA), registry (build_policy), timing (step/latency measurement),
vision_pretrain (masked-image pretraining of the ViT: MaskedViT), vision_init (loading it into a policy).
Kept import-free so that reading a config does not import transformers.
"""
