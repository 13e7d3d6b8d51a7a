"""Deprecated: moved to :mod:`mmdeocc.structures.image_ops`."""
from mmdeocc.structures.image_ops import *  # noqa: F401,F403
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.structures.image_ops')
