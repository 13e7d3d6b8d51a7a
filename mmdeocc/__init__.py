"""mmdeocc: self-supervised scene de-occlusion (PCNet-M / PCNet-C) for
MMDetection 3.x.

Importing this package registers every component into MMDetection's registries
(``default_scope='mmdet'``), so a config only needs::

    custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)
"""
import os

# OpenMP threads that spin while waiting make torch 2x slower on a busy
# machine (other processes on the cores: 82 s vs 36 s for the same labels,
# docs/benchmarks.md "Threads"); passive waiting costs ~10 % on an idle one.
# Only effective when torch is not imported yet; a user's setting wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import mmcv  # noqa: E402
import mmdet  # noqa: E402
import mmengine  # noqa: E402

from .version import __version__, parse_version_info, version_info

MMCV_MIN, MMCV_MAX = '2.0.0', '2.2.0'
MMENGINE_MIN, MMENGINE_MAX = '0.7.1', '1.0.0'
MMDET_MIN, MMDET_MAX = '3.0.0', '3.4.0'


def _check_version(name: str, installed: str, minimum: str,
                   maximum: str) -> None:
    """Raise if ``installed`` is outside ``[minimum, maximum)``.

    Args:
        name (str): Package name, used in the error message.
        installed (str): Installed version string.
        minimum (str): Lowest supported version (inclusive).
        maximum (str): First unsupported version (exclusive).
    """
    version = parse_version_info(installed)
    if not (parse_version_info(minimum) <= version <
            parse_version_info(maximum)):
        raise ImportError(
            f'mmdeocc {__version__} needs {minimum} <= {name} < {maximum}, '
            f'but {name} {installed} is installed. Run tools/setup_env.sh '
            'or `pip install "mmcv==2.1.0" "mmengine==0.10.7" '
            '"mmdet==3.3.0"`.')


_check_version('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check_version('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)
_check_version('mmdet', mmdet.__version__, MMDET_MIN, MMDET_MAX)

# Registration side effects: every submodule registers into mmdet's registries.
from . import utils  # noqa: E402,F401  (safe checkpoint loading first)
from . import structures  # noqa: E402,F401
from . import datasets  # noqa: E402,F401
from . import models  # noqa: E402,F401
from . import deocclusion  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import engine  # noqa: E402,F401
from . import apis  # noqa: E402,F401
from . import visualization  # noqa: E402,F401

__all__ = ['__version__', 'version_info']
