"""Data layer: LeRobotDataset v3 I/O (`writer`, `reader`, `video`, `lerobot_format`), normalisation
(`stats`, `normalize`), the in-memory torch dataset (`chunk_dataset`) and demonstration generation
(`demos`, `generate`).

Nothing is imported here so that generation workers never import torch.
"""
