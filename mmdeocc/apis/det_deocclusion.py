"""Deprecated: moved to :mod:`mmdeocc.deocclusion.det_samples`."""
from mmdeocc.deocclusion.det_samples import *  # noqa: F401,F403
from mmdeocc.utils.deprecation import warn_moved

warn_moved(__name__, 'mmdeocc.deocclusion.det_samples')
