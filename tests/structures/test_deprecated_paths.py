"""Names that moved keep working from their old places, with a warning."""
import importlib
import sys

import pytest

import mmdeocc.structures as structures


@pytest.mark.parametrize('old,new', [
    ('mmdeocc.deocclusion.bitmasks', 'mmdeocc.structures.packed_masks'),
    ('mmdeocc.deocclusion.pairs', 'mmdeocc.structures.touch'),
    ('mmdeocc.deocclusion.graph', 'mmdeocc.structures.order'),
])
def test_old_module_warns_and_reexports(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace('.', r'\.')):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    assert target.__all__
    for name in target.__all__:
        assert getattr(module, name) is getattr(target, name)


@pytest.mark.parametrize('package,name,target', [
    ('mmdeocc.deocclusion', 'PackedMasks', structures.PackedMasks),
    ('mmdeocc.deocclusion', 'touching_pairs', structures.touching_pairs),
    ('mmdeocc.deocclusion', 'layers', structures.layers),
    ('mmdeocc.evaluation.functional', 'gt_order_from_masks',
     structures.gt_order_from_masks),
    ('mmdeocc.evaluation.functional', 'as_bool_masks',
     structures.as_bool_mask_array),
])
def test_moved_names_warn(package, name, target):
    module = importlib.import_module(package)
    with pytest.warns(DeprecationWarning, match='mmdeocc.structures'):
        assert getattr(module, name) is target


def test_unknown_name_is_attribute_error():
    import mmdeocc.deocclusion as deocclusion
    with pytest.raises(AttributeError, match='no_such_name'):
        deocclusion.no_such_name
