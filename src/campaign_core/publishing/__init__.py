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
  and :func:`validate_platform_content`; ``adapt_for_platform(s)`` chains them;
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
    ChangeAction,
    ContentGenerator,
    adapt_for_platform,
    adapt_for_platforms,
    validate_platform_content,
)
from campaign_core.publishing._content import (
    GENERIC_FIELDS,
    check_content,
    resolve_platform_content,
)
from campaign_core.publishing._credentials import (
    CredentialCipher,
    CredentialError,
    PlatformCredential,
    Secret,
)
from campaign_core.publishing._keys import content_digest, publish_idempotency_key
from campaign_core.publishing._platform_rules import DEFAULT_PLATFORM_LIMITS, PlatformRules
from campaign_core.publishing._platforms import (
    IMAGE_EXTENSIONS,
    PLATFORMS,
    VIDEO_EXTENSIONS,
    LinkPolicy,
    MediaKind,
    PlatformLimits,
    PriceRange,
    TextLimit,
    media_extension,
    media_kind,
)
from campaign_core.publishing._ports import (
    Publisher,
    PublishFailure,
    PublishOutcome,
    PublishRequest,
    PublishSuccess,
    RecordingPublisher,
    call_publisher,
)
from campaign_core.publishing._registry import PlatformRegistry, PlatformSpec
from campaign_core.publishing._retry import JitterMode, RetryDecision, RetryPolicy
from campaign_core.publishing._scripted import (
    LostResponse,
    PublishCall,
    RateLimit,
    Reject,
    ScriptedPublisher,
    ScriptStep,
    ServerError,
    Succeed,
    Timeout,
)
from campaign_core.publishing._text import LengthUnit, text_length, truncate_text
from campaign_core.publishing._throttle import LaunchThrottle, ThrottleDecision, ThrottleState

__all__ = [
    "DEFAULT_PLATFORM_LIMITS",
    "GENERIC_FIELDS",
    "IMAGE_EXTENSIONS",
    "PLATFORMS",
    "VIDEO_EXTENSIONS",
    "AdaptationRequest",
    "AdaptationResult",
    "BuiltinContentAdapter",
    "Change",
    "ChangeAction",
    "ContentGenerator",
    "CredentialCipher",
    "CredentialError",
    "JitterMode",
    "LaunchThrottle",
    "LengthUnit",
    "LinkPolicy",
    "LostResponse",
    "MediaKind",
    "PlatformCredential",
    "PlatformLimits",
    "PlatformRegistry",
    "PlatformRules",
    "PlatformSpec",
    "PriceRange",
    "PublishCall",
    "PublishFailure",
    "PublishOutcome",
    "PublishRequest",
    "PublishSuccess",
    "Publisher",
    "RateLimit",
    "RecordingPublisher",
    "Reject",
    "RetryDecision",
    "RetryPolicy",
    "ScriptStep",
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
    "check_content",
    "content_digest",
    "media_extension",
    "media_kind",
    "publish_idempotency_key",
    "resolve_platform_content",
    "text_length",
    "truncate_text",
    "validate_platform_content",
]
