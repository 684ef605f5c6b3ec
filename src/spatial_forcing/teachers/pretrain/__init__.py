"""Pretraining of the mini teachers: renders (tabletop or synthetic), geometry targets and losses, loop."""
