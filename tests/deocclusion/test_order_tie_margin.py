"""``order_tie_margin``: near-tied dual completions take the convex order."""
import numpy as np
import pytest
import torch

from mmdeocc.deocclusion import DeOccluder
from mmdeocc.deocclusion.deoccluder import DeOcclusionConfigError
from mmdeocc.deocclusion.ordering import order_from_growth


def test_order_from_growth_margin_rule():
    pairs = torch.tensor([[0, 1], [0, 2], [1, 2], [2, 3]])
    # growth of i into j, of j into i: clear, within 10 %, tie 0/0, 20 %
    growth = torch.tensor([[100, 10], [100, 95], [0, 0], [80, 100]])
    fallback = torch.zeros((4, 4), dtype=torch.int8)
    fallback[0, 2], fallback[2, 0] = 1, -1   # disagrees with the growth
    fallback[1, 2], fallback[2, 1] = -1, 1
    fallback[2, 3], fallback[3, 2] = 1, -1
    plain = order_from_growth(4, pairs, growth)
    assert plain[0, 1] == -1 and plain[0, 2] == -1 and plain[1, 2] == 0
    assert plain[2, 3] == 1
    ties = order_from_growth(4, pairs, growth, 0.0, fallback)
    assert ties[1, 2] == -1 and ties[2, 1] == 1           # exact tie
    assert ties[0, 2] == -1 and ties[2, 3] == 1           # not tied
    near = order_from_growth(4, pairs, growth, 0.1, fallback)
    assert near[0, 2] == 1 and near[2, 0] == -1           # 5 % apart
    assert near[0, 1] == -1 and near[2, 3] == 1           # 90 %, 20 %
    wide = order_from_growth(4, pairs, growth, 0.25, fallback)
    assert wide[2, 3] == 1 and wide[3, 2] == -1
    assert torch.equal(wide, -wide.T)


def test_deoccluder_takes_convex_order_only_on_near_ties(
        model, synthetic_scenes, coco_scenes):
    scenes = list(synthetic_scenes[:12]) + [m for m, _ in coco_scenes[:4]]
    plain = DeOccluder(model)
    margin = DeOccluder(model, order_tie_margin=0.3)
    convex = DeOccluder(order_method='convex', amodal_method='raw')
    changed = 0
    for masks in scenes:
        base, tied, geometric = (plain.order(masks), margin.order(masks),
                                 convex.order(masks))
        differ = base != tied
        changed += int(differ.sum())
        assert torch.equal(tied[differ], geometric[differ])
        assert torch.equal(tied, -tied.T)
    assert changed > 0
    # the option is recorded in label fingerprints only when it is set
    from mmdeocc.apis.amodal_labels import deoccluder_settings
    assert 'order_tie_margin' not in deoccluder_settings(plain)
    assert deoccluder_settings(margin)['order_tie_margin'] == 0.3


@pytest.mark.parametrize('bad', [-0.1, 1.0, 'x'])
def test_bad_margin_is_a_config_error(model, bad):
    with pytest.raises(DeOcclusionConfigError, match='order_tie_margin'):
        DeOccluder(model, order_tie_margin=bad)


def test_margin_none_is_the_reference(model, synthetic_scenes):
    masks = synthetic_scenes[3]
    a = DeOccluder(model)(masks)
    b = DeOccluder(model, order_tie_margin=None)(masks)
    assert torch.equal(a.order, b.order)
    assert np.array_equal(a.amodal_masks.numpy(), b.amodal_masks.numpy())
