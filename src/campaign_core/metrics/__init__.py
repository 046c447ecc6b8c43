"""Metrics: the MetricsSink port, its data point, and adapters.

(Minimal first cut; the metrics issue grows this package: in-memory helpers,
CloudWatch, Embedded Metric Format, provisioning.)
"""

from campaign_core.metrics._base import MetricPoint, MetricsSink, NullMetrics

__all__ = ["MetricPoint", "MetricsSink", "NullMetrics"]
