"""Spatial Forcing: align a VLA's visual tokens with a frozen 3D teacher during training."""

__version__ = "0.1.0"
