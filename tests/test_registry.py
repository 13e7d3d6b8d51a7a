"""`import mmdeocc` (or `custom_imports`) registers every component in mmdet."""
import subprocess
import sys
import textwrap

EXPECTED = {
    'MODELS': [
        'PCNetM', 'UNet', 'PCNetC', 'PCNetCGenerator', 'PCNetCDiscriminator',
        'VGG16Features', 'DeOcclusionDetector', 'PCNetCInpaintingLoss',
        'PCNetCAdversarialLoss'
    ],
    'DATASETS': [
        'KINSAmodalDataset', 'COCOAmodalDataset', 'CocoModalDataset',
        'AmodalCocoDataset', 'PCNetInstanceDataset',
        'SupervisedAmodalInstanceDataset'
    ],
    'TRANSFORMS': [
        'SurrogateOcclusion', 'PackPCNetInputs', 'SupervisedAmodalSample',
        'LoadPCNetCImageCrop', 'PackPCNetCInputs'
    ],
    'HOOKS': ['DeOcclusionHook'],
    'OPTIM_WRAPPER_CONSTRUCTORS': ['PCNetCOptimWrapperConstructor'],
    'METRICS': [
        'OcclusionOrderMetric', 'AmodalMaskMetric', 'DumpDeOcclusionResults'
    ],
    'DATA_SAMPLERS': ['InfiniteRoundSampler'],
}


def test_custom_imports_register_components_in_a_fresh_interpreter():
    """A config's custom_imports is all a user needs (checked in a clean
    interpreter, so no other test's imports can make it pass)."""
    script = textwrap.dedent(f"""
        from mmengine.config import Config
        from mmengine.utils import import_modules_from_strings
        import mmdet.registry as reg
        cfg = Config(dict(custom_imports=dict(imports=['mmdeocc'],
                                              allow_failed_imports=False)))
        import_modules_from_strings(**cfg.custom_imports)
        missing = []
        for registry, names in {EXPECTED!r}.items():
            for name in names:
                if getattr(reg, registry).get(name) is None:
                    missing.append(registry + '.' + name)
        print('MISSING', missing)
    """)
    out = subprocess.run([sys.executable, '-c', script],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'MISSING []' in out.stdout, out.stdout


def test_version_guard_names_the_package():
    import mmdeocc
    import pytest
    with pytest.raises(ImportError, match='mmdet'):
        mmdeocc._check_version('mmdet', '2.28.0', mmdeocc.MMDET_MIN,
                               mmdeocc.MMDET_MAX)
    mmdeocc._check_version('mmdet', '3.3.0', mmdeocc.MMDET_MIN,
                           mmdeocc.MMDET_MAX)
