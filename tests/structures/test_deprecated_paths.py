"""Names that moved keep working from their old places, with a warning."""
import importlib
import re
import sys
import warnings

import pytest

import mmdeocc.structures as structures


@pytest.mark.parametrize('old,new', [
    ('mmdeocc.deocclusion.bitmasks', 'mmdeocc.structures.packed_masks'),
    ('mmdeocc.deocclusion.pairs', 'mmdeocc.structures.touch'),
    ('mmdeocc.deocclusion.graph', 'mmdeocc.structures.order'),
    ('mmdeocc.datasets.occlusion_scenes', 'mmdeocc.datasets.synthesis'),
    ('mmdeocc.deocclusion.crops', 'mmdeocc.structures.image_ops'),
])
def test_old_module_warns_and_reexports(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace('.', r'\.')):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    assert target.__all__
    for name in target.__all__:
        assert getattr(module, name) is getattr(target, name)


def test_old_generator_scene_name():
    """The generator's ``Scene`` is now ``SyntheticScene``."""
    from mmdeocc.datasets.synthesis import SyntheticScene
    sys.modules.pop('mmdeocc.datasets.occlusion_scenes', None)
    with pytest.warns(DeprecationWarning, match='synthesis'):
        from mmdeocc.datasets.occlusion_scenes import Scene
    assert Scene is SyntheticScene


@pytest.mark.parametrize('package,name,target', [
    ('mmdeocc.deocclusion', 'PackedMasks', structures.PackedMasks),
    ('mmdeocc.deocclusion', 'touching_pairs', structures.touching_pairs),
    ('mmdeocc.deocclusion', 'layers', structures.layers),
    ('mmdeocc.evaluation.functional', 'gt_order_from_masks',
     structures.gt_order_from_masks),
    ('mmdeocc.evaluation.functional', 'as_bool_masks',
     structures.as_bool_mask_array),
    ('mmdeocc.deocclusion', 'ContentLayers', structures.ContentLayers),
])
def test_moved_names_warn(package, name, target):
    module = importlib.import_module(package)
    with pytest.warns(DeprecationWarning, match='mmdeocc.structures'):
        assert getattr(module, name) is target


@pytest.mark.parametrize('name,new', [
    ('GENERATOR_ENCODER_SPEC',
     'mmdeocc.models.pconv_unet.GENERATOR_ENCODER_SPEC'),
    ('generator_layer_shapes',
     'mmdeocc.models.pconv_unet.generator_layer_shapes'),
    ('scaled_channels', 'mmdeocc.models.pconv_unet.scaled_channels'),
    ('PartialConvBlock', 'mmdeocc.models.pconv_unet.PartialConvBlock'),
    ('_check_width', 'mmdeocc.models.pconv_unet.check_width'),
    ('PartialConv2d', 'mmdeocc.models.partial_conv.PartialConv2d'),
])
def test_pcnet_c_moved_names_warn(name, new):
    """The generator's helpers left ``mmdeocc.models.pcnet_c``."""
    module = importlib.import_module('mmdeocc.models.pcnet_c')
    home, _, new_name = new.rpartition('.')
    with pytest.warns(DeprecationWarning, match=re.escape(new)):
        moved = getattr(module, name)
    assert moved is getattr(importlib.import_module(home), new_name)


def test_split_content_and_pcnet_c_names_need_no_warning():
    """Names the old modules still use are plain re-exports."""
    from mmdeocc.models import checkpoint_io, discriminator, pconv_unet
    from mmdeocc.structures import content_layers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        import mmdeocc.deocclusion as deocclusion
        import mmdeocc.models as models
        from mmdeocc.deocclusion import content
        from mmdeocc.models import pcnet_c
        assert pcnet_c.PCNetCGenerator is pconv_unet.PCNetCGenerator
        assert pcnet_c.PCNetCDiscriminator is \
            discriminator.PCNetCDiscriminator
        assert pcnet_c.PCNetCInputError is pconv_unet.PCNetCInputError
        assert content.ContentLayers is structures.ContentLayers
        assert content.ContentCompletionError is \
            content_layers.ContentCompletionError is \
            deocclusion.ContentCompletionError
        assert content.load_pcnet_c is deocclusion.load_pcnet_c is \
            models.load_pcnet_c is checkpoint_io.load_pcnet_c
    assert not [w for w in caught if 'mmdeocc' in str(w.message)]


def test_unknown_name_is_attribute_error():
    import mmdeocc.deocclusion as deocclusion
    with pytest.raises(AttributeError, match='no_such_name'):
        deocclusion.no_such_name
