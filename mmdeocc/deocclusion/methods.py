"""The one table of de-occlusion methods (METHOD 2-3, the paper's rows).

A :class:`~mmdeocc.deocclusion.DeOccluder` combines an *ordering* method
(how the occlusion order is found) with an *amodal* method (how amodal masks
are completed). The named methods of the paper's tables, of the evaluator
and of pseudo-label generation are pairs of the two, listed once here.
"""
from typing import Dict, Optional, Tuple

__all__ = [
    'ORDER_METHODS', 'AMODAL_METHODS', 'NETWORK_ORDER_METHODS',
    'NETWORK_AMODAL_METHODS', 'ORDERED_AMODAL_METHODS', 'NAMED_METHODS',
    'NETWORK_METHODS', 'method_pair', 'ordering_needed'
]

#: Orderings: dual completion with PCNet-M ('ours'), and the baselines
#: (larger modal area in front, lower bottom edge in front, convex hull).
ORDER_METHODS = ('ours', 'area', 'area_large', 'yaxis', 'convex')
#: Amodal completions: ordering-grounded (OG, 'ours') and non-ordering-
#: grounded (NOG) PCNet-M, the modal mask itself, its convex hull, and the
#: hull restricted to the ancestors in the order (Convex^R).
AMODAL_METHODS = ('ours', 'ours_nog', 'raw', 'convex', 'convexr')
#: Methods that run PCNet-M.
NETWORK_ORDER_METHODS = ('ours', )
NETWORK_AMODAL_METHODS = ('ours', 'ours_nog')
#: Amodal methods whose result depends on the occlusion order.
ORDERED_AMODAL_METHODS = ('ours', 'ours_nog', 'convexr')

#: Named methods (the paper's rows) -> ``(order_method, amodal_method)``.
#: The ordering is the one their order output comes from (pseudo-labels
#: write it); it feeds the amodal method when that needs an order.
NAMED_METHODS: Dict[str, Tuple[str, str]] = {
    'ours': ('ours', 'ours'),
    'ours_nog': ('ours', 'ours_nog'),
    'raw': ('convex', 'raw'),
    'convex': ('convex', 'convex'),
    'convexr': ('convex', 'convexr'),
}
#: Named methods that need a PCNet-M checkpoint.
NETWORK_METHODS = tuple(
    name for name, (order, amodal) in NAMED_METHODS.items()
    if order in NETWORK_ORDER_METHODS or amodal in NETWORK_AMODAL_METHODS)


def method_pair(name: str) -> Tuple[str, str]:
    """``(order_method, amodal_method)`` of a named method.

    Args:
        name (str): A key of :data:`NAMED_METHODS`.

    Returns:
        tuple[str, str]: The DeOccluder's ``order_method`` and
        ``amodal_method``.

    Raises:
        KeyError: Unknown name (the message lists the known ones).
    """
    if name not in NAMED_METHODS:
        raise KeyError(f'unknown de-occlusion method {name!r}; choose from '
                       f'{", ".join(NAMED_METHODS)}')
    return NAMED_METHODS[name]


def ordering_needed(name: str) -> Optional[str]:
    """The ordering a named method's amodal masks depend on, if any.

    Args:
        name (str): A key of :data:`NAMED_METHODS`.

    Returns:
        str | None: An ordering of :data:`ORDER_METHODS`, or None when the
        amodal method ignores the order ('raw', 'convex').
    """
    order, amodal = method_pair(name)
    return order if amodal in ORDERED_AMODAL_METHODS else None
