"""Evaluation: occlusion-order and amodal-mask metrics, and the benchmark
loop that evaluates every de-occlusion method in one run."""
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .deocclusion_evaluator import (AMODAL_ROWS, DEFAULT_METHODS,
                                    EVAL_METHODS, ORDER_ROWS,
                                    DeOcclusionEvalError,
                                    DeOcclusionEvaluator,
                                    evaluate_from_config, format_markdown,
                                    parse_methods, save_results)

__all__ = list(_metrics_all) + [
    'AMODAL_ROWS', 'DEFAULT_METHODS', 'EVAL_METHODS', 'ORDER_ROWS',
    'DeOcclusionEvalError', 'DeOcclusionEvaluator', 'evaluate_from_config',
    'format_markdown', 'parse_methods', 'save_results'
]
