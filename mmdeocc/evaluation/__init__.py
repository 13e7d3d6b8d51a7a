"""Evaluation: occlusion-order and amodal-mask metrics, the benchmark loop
that evaluates every de-occlusion method in one run, its report writing
and its config plumbing."""
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .deocclusion_evaluator import (AMODAL_ROWS, DEFAULT_METHODS,
                                    EVAL_METHODS, ORDER_ROWS, SUP_ORDERS,
                                    DeOcclusionEvalError,
                                    DeOcclusionEvaluator, parse_methods)
from .from_config import (build_eval_dataset, evaluate_from_config,
                          resolve_eval_device)
from .report import format_markdown, save_results

__all__ = list(_metrics_all) + [
    'AMODAL_ROWS', 'DEFAULT_METHODS', 'EVAL_METHODS', 'ORDER_ROWS',
    'SUP_ORDERS', 'DeOcclusionEvalError', 'DeOcclusionEvaluator',
    'build_eval_dataset', 'evaluate_from_config', 'format_markdown',
    'parse_methods', 'resolve_eval_device', 'save_results'
]
