"""Multi-platform publishing: the Publisher port and its value objects.

(Minimal first cut; the publishing issue grows this package: platform limits,
content adaptation, durable retries, credentials.)
"""

from campaign_core.publishing._ports import (
    Publisher,
    PublishFailure,
    PublishOutcome,
    PublishRequest,
    PublishSuccess,
    RecordingPublisher,
)

__all__ = [
    "PublishFailure",
    "PublishOutcome",
    "PublishRequest",
    "PublishSuccess",
    "Publisher",
    "RecordingPublisher",
]
