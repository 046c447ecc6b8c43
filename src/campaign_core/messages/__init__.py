"""Message templates: Liquid, personalized per fan, in the fan's language, bounded.

A :class:`~campaign_core.models.MessageTemplate` holds, per locale, the parts of
a message on its channel (email: ``subject``, ``html``, ``text``; push:
``title``, ``body``; DM and SMS: ``text``), each a Liquid template. This package
is the pure part: it validates a template when it is saved
(:func:`validate_template`), renders it for one fan (:func:`render`,
:func:`render_preview`) and ships the seed's templates as built-in defaults
(:func:`builtin_message_template`). It reads no store.

Rendering needs the ``templates`` extra (python-liquid and babel); without it
the package imports, and rendering or validating raises
:class:`~campaign_core.errors.MissingDependencyError`.

Example::

    from datetime import UTC, datetime
    from campaign_core.messages import builtin_message_template, render

    result = render(
        builtin_message_template("welcome_message"),
        {"traits": {"first_name": "Léa", "locale": "fr-CA"}},
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )
    result.locale, result.parts["text"][:20]      # ('fr', 'Salut Léa, bienvenue')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from campaign_core.messages._builtins import (
    BUILTIN_MESSAGE_TEMPLATES as BUILTIN_MESSAGE_TEMPLATES,
)
from campaign_core.messages._builtins import (
    builtin_message_template,
)
from campaign_core.messages._fields import (
    ACCOUNT_FIELDS as ACCOUNT_FIELDS,
)
from campaign_core.messages._fields import (
    CAMPAIGN_FIELDS as CAMPAIGN_FIELDS,
)
from campaign_core.messages._fields import (
    PROFILE_FIELDS as PROFILE_FIELDS,
)
from campaign_core.messages._fields import (
    ROOTS as ROOTS,
)
from campaign_core.messages._fields import (
    MessageFields,
)
from campaign_core.messages._limits import (
    MessageLimits,
    PartLimit,
    RenderLimits,
)
from campaign_core.messages._limits import (
    SmsCount as SmsCount,
)
from campaign_core.messages._limits import (
    sms_segments as sms_segments,
)
from campaign_core.messages._locales import (
    choose_locale as choose_locale,
)
from campaign_core.messages._locales import (
    locale_chain as locale_chain,
)
from campaign_core.messages._locales import (
    normalize_locale as normalize_locale,
)
from campaign_core.messages._render import (
    AccountProfile,
    CompiledCache,
    MessageRenderer,
    RenderedMessage,
    sample_fan,
)
from campaign_core.messages._render import (
    fan_namespace as fan_namespace,
)
from campaign_core.messages._validate import REQUIRED_PARTS as REQUIRED_PARTS
from campaign_core.messages._validate import validate_template
from campaign_core.models import Fan, MessageTemplate

__all__ = [
    "AccountProfile",
    "CompiledCache",
    "MessageFields",
    "MessageLimits",
    "MessageRenderer",
    "PartLimit",
    "RenderLimits",
    "RenderedMessage",
    "builtin_message_template",
    "render",
    "render_preview",
    "sample_fan",
    "validate_template",
]

_DEFAULT: list[MessageRenderer] = []


def default_renderer() -> MessageRenderer:
    """The process-wide renderer with the default limits and a bounded LRU cache.

    Raises:
        MissingDependencyError: the ``templates`` extra is not installed.
    """
    if not _DEFAULT:
        _DEFAULT.append(MessageRenderer())
    return _DEFAULT[0]


def render(
    template: MessageTemplate,
    fan: Fan | Mapping[str, Any],
    *,
    now: datetime,
    locale: str | None = None,
    campaign: Any = None,
    account: AccountProfile | None = None,
    variables: Mapping[str, Any] | None = None,
    unsubscribe_url: str | None = None,
    fields: MessageFields | None = None,
    renderer: MessageRenderer | None = None,
) -> RenderedMessage:
    """Render ``template`` for one fan: the parts and the locale used, or a per-fan failure.

    This is the one rendering path for every send (broadcasts, workflow
    ``send_message`` steps, ``execute_action``); see
    :meth:`MessageRenderer.render` for the arguments. It never raises for what a
    fan's data or the template does; ``result.ok`` is false with a ``reason``.

    Raises:
        MissingDependencyError: the ``templates`` extra is not installed.
    """
    return (renderer or default_renderer()).render(
        template,
        fan,
        now=now,
        locale=locale,
        campaign=campaign,
        account=account,
        variables=variables,
        unsubscribe_url=unsubscribe_url,
        fields=fields,
    )


def render_preview(
    template: MessageTemplate,
    fan: Fan | Mapping[str, Any] | None = None,
    *,
    now: datetime,
    locale: str | None = None,
    campaign: Any = None,
    account: AccountProfile | None = None,
    variables: Mapping[str, Any] | None = None,
    fields: MessageFields | None = None,
    renderer: MessageRenderer | None = None,
) -> RenderedMessage:
    """Each rendered part and the warnings, for a host's template editor.

    Args:
        template: the template (saved or a draft).
        fan: the fan to preview for; a :func:`sample_fan` with every field when None.
        now: the time to render at.
        locale: the locale to preview; the fan's, else the account's default.
        campaign: a campaign for ``campaign.*``.
        account: the account.
        variables: the send's variables.
        fields: the account's variables (declared traits).
        renderer: the renderer (the default one when None).

    Returns:
        The rendered message; ``warnings`` lists locale fallbacks, empty parts
        and SMS segment counts.
    """
    fields = fields or MessageFields.from_registry()
    return render(
        template,
        fan if fan is not None else sample_fan(fields, now=now),
        now=now,
        locale=locale,
        campaign=campaign,
        account=account,
        variables=variables,
        unsubscribe_url="https://example.com/unsubscribe/preview",
        fields=fields,
        renderer=renderer,
    )
