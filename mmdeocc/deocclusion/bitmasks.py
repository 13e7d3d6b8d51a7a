"""Deprecated: moved to :mod:`mmdeocc.structures.packed_masks`."""
from mmdeocc.structures.packed_masks import *  # noqa: F401,F403
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.structures.packed_masks')
