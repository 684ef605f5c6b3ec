"""Pretraining of the mini teachers and of the student's ViT (vit2d): renders (tabletop or synthetic),
geometry targets and losses, loop."""
