"""Hooks registered in mmdet's ``HOOKS`` registry."""
from .deocclusion_hook import DeOcclusionHook

__all__ = ['DeOcclusionHook']
