"""Evaluation: occlusion-order and amodal-mask metrics."""
from .metrics import *  # noqa: F401,F403
