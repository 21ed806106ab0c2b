"""The evaluators airsoc ships, by the detector name monitors use.

The runtime registers these first, then plugins of the ``airsoc.evaluators`` entry-point group.

Example:
    >>> sorted(BUILTIN_EVALUATORS)[:3]
    ['adversarial_evasion', 'click_through', 'concept_drift']
"""

from __future__ import annotations

from collections.abc import Mapping

from airsoc.monitoring import engagement, evaluators, security
from airsoc.monitoring.monitors import MonitorEvaluator, threshold_evaluator

__all__ = ["BUILTIN_EVALUATORS"]

BUILTIN_EVALUATORS: Mapping[str, MonitorEvaluator] = {
    "threshold": threshold_evaluator,
    "data_drift": evaluators.data_drift,
    "prediction_drift": evaluators.prediction_drift,
    "concept_drift": evaluators.concept_drift,
    "pipeline_fault": evaluators.pipeline_fault,
    "fairness_regression": evaluators.fairness_regression,
    "text_drift": evaluators.text_drift,
    "release_regression": evaluators.release_regression,
    "click_through": engagement.click_through,
    **security.SECURITY_DETECTORS,
}
