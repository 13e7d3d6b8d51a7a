"""Install mmdeocc: ``pip install -e .`` (see tools/setup_env.sh for the pinned stack)."""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    """Read ``__version__`` from ``mmdeocc/version.py`` without importing it."""
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmdeocc', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def readme() -> str:
    """Return the README as the long description."""
    with open(osp.join(osp.dirname(__file__), 'README.md'),
              encoding='utf-8') as f:
        return f.read()


setup(
    name='mmdeocc',
    version=get_version(),
    description='Self-supervised scene de-occlusion (PCNet-M / PCNet-C) '
    'for MMDetection 3.x',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    # torch is deliberately not listed: an installed build (CPU or CUDA) is
    # kept; tools/setup_env.sh installs torch==2.13.0 when none is present.
    install_requires=[
        'mmengine>=0.7.1,<1.0.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.0.0,<3.4.0',
        'numpy',
        'pillow',
        'pycocotools',
        'tqdm',
    ],
    license='Apache License 2.0',
    zip_safe=False,
)
