"""Multi-platform publishing: ports, platform limits, content adaptation, retries, credentials.

The pure (storage-free) pieces the engine uses to publish a campaign to
OnlyFans, Instagram, TikTok and Reddit:

- the :class:`Publisher` port and its value objects, :func:`call_publisher`;
- platform limits as data (:class:`PlatformLimits`, :class:`PlatformRules`,
  ``DEFAULT_PLATFORM_LIMITS``), overridable by the host;
- the platform registry (:class:`PlatformRegistry`, :class:`PlatformSpec`): the
  built-in platforms plus any a host declares in ``Settings(platforms=...)``;
- the content model (:func:`resolve_platform_content`), the
  :class:`ContentGenerator` port, the deterministic :class:`BuiltinContentAdapter`
  and ``validate_platform_content``; ``adapt_for_platform(s)`` chains them;
- idempotency keys (:func:`publish_idempotency_key`);
- the retry policy (:class:`RetryPolicy`);
- encrypted platform credentials (:class:`CredentialCipher`, needs the ``crypto`` extra);
- launch throttling per account (:class:`LaunchThrottle`);
- a scripted fake platform for tests (:class:`ScriptedPublisher`).
"""

from campaign_core.publishing._adapt import (
    AdaptationRequest,
    AdaptationResult,
    BuiltinContentAdapter,
    Change,
    adapt_for_platform,
    adapt_for_platforms,
)
from campaign_core.publishing._adapt import (
    ContentGenerator as ContentGenerator,
)
from campaign_core.publishing._adapt import (
    validate_platform_content as validate_platform_content,
)
from campaign_core.publishing._content import (
    check_content as check_content,
)
from campaign_core.publishing._content import (
    resolve_platform_content,
)
from campaign_core.publishing._credentials import (
    CredentialCipher,
    CredentialError,
    PlatformCredential,
    Secret,
)
from campaign_core.publishing._keys import (
    publish_idempotency_key,
)
from campaign_core.publishing._platform_rules import DEFAULT_PLATFORM_LIMITS, PlatformRules
from campaign_core.publishing._platforms import (
    PlatformLimits,
    PriceRange,
    TextLimit,
)
from campaign_core.publishing._ports import (
    Publisher as Publisher,
)
from campaign_core.publishing._ports import (
    PublishFailure,
    PublishRequest,
    PublishSuccess,
    RecordingPublisher,
    call_publisher,
)
from campaign_core.publishing._ports import (
    PublishOutcome as PublishOutcome,
)
from campaign_core.publishing._registry import PlatformRegistry, PlatformSpec
from campaign_core.publishing._retry import (
    RetryDecision,
    RetryPolicy,
)
from campaign_core.publishing._scripted import (
    LostResponse,
    PublishCall,
    RateLimit,
    Reject,
    ScriptedPublisher,
    ServerError,
    Succeed,
    Timeout,
)
from campaign_core.publishing._text import text_length as text_length
from campaign_core.publishing._throttle import LaunchThrottle, ThrottleDecision, ThrottleState

__all__ = [
    "DEFAULT_PLATFORM_LIMITS",
    "AdaptationRequest",
    "AdaptationResult",
    "BuiltinContentAdapter",
    "Change",
    "CredentialCipher",
    "CredentialError",
    "LaunchThrottle",
    "LostResponse",
    "PlatformCredential",
    "PlatformLimits",
    "PlatformRegistry",
    "PlatformRules",
    "PlatformSpec",
    "PriceRange",
    "PublishCall",
    "PublishFailure",
    "PublishRequest",
    "PublishSuccess",
    "RateLimit",
    "RecordingPublisher",
    "Reject",
    "RetryDecision",
    "RetryPolicy",
    "ScriptedPublisher",
    "Secret",
    "ServerError",
    "Succeed",
    "TextLimit",
    "ThrottleDecision",
    "ThrottleState",
    "Timeout",
    "adapt_for_platform",
    "adapt_for_platforms",
    "call_publisher",
    "publish_idempotency_key",
    "resolve_platform_content",
]
