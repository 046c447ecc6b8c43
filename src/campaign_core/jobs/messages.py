"""Rendering a message for a send: the one path broadcasts, workflow steps and actions call.

A send names a template (``"welcome_message"``). :func:`resolve_template` finds
the account's own template of that name, else the built-in one;
:func:`render_for_send` renders it for the fan with the core's renderer (compiled
parts in the core's TTL cache) and the core's declared fields. The answer is the
rendered parts and the locale used, or a per-fan failure with its reason
(``result.ok`` false), which the caller records as that fan's ``failed``
outcome; it never raises for what the template or the fan's data does.

``None`` means "nothing to render here": the template name is neither the
account's nor a built-in (a host that renders its own templates), or the
``templates`` extra is not installed. The caller then sends the template name
and variables, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from campaign_core._runtime import Runtime
from campaign_core.errors import MissingDependencyError
from campaign_core.messages import AccountProfile, RenderedMessage, builtin_message_template
from campaign_core.models import Fan, MessageTemplate
from campaign_core.ports import UnitOfWork
from campaign_core.query import And, Eq

__all__ = ["render_for_send", "resolve_template"]


def resolve_template(uow: UnitOfWork, owner_id: str, name: str) -> MessageTemplate | None:
    """The template a send named ``name`` uses for an account: its own, else the built-in.

    Args:
        uow: an open unit of work.
        owner_id: the account.
        name: the template's name.
    """
    own = uow.message_templates.find(And(Eq("owner_id", owner_id), Eq("name", name)), limit=1)
    return own[0] if own else builtin_message_template(name)


def render_for_send(
    rt: Runtime,
    uow: UnitOfWork | None,
    *,
    owner_id: str,
    fan: Fan | Mapping[str, Any],
    template: str | MessageTemplate,
    variables: Mapping[str, Any] | None = None,
    campaign: Any = None,
    unsubscribe_url: str | None = None,
    locale: str | None = None,
    account: AccountProfile | None = None,
) -> RenderedMessage | None:
    """Render the message one fan receives.

    Args:
        rt: the core's runtime (renderer, fields, clock).
        uow: an open unit of work, to find the account's template when ``template``
            is a name; None when the caller passes the template itself (rendering
            reads nothing from the store).
        owner_id: the sending account.
        fan: the fan record (or a mapping of its fields).
        template: the template's name, or the template itself.
        variables: the send's variables (``vars.*``).
        campaign: the campaign being sent, if any.
        unsubscribe_url: the fan's signed unsubscribe link.
        locale: force a locale; the fan's ``locale`` trait when None.
        account: the account's profile (default locale, currency, zone).

    Returns:
        The rendered parts and locale, a per-fan failure (``ok`` false, with a
        ``reason``), or ``None`` when there is nothing to render (an unknown
        template name, or no ``templates`` extra): send the name and variables.
    """
    if isinstance(template, MessageTemplate):
        found: MessageTemplate | None = template
    elif uow is None:
        raise TypeError("render_for_send needs a unit of work to find a template by name")
    else:
        found = resolve_template(uow, owner_id, template)
    if found is None:
        return None
    try:
        renderer = rt.message_renderer()
    except MissingDependencyError:
        return None
    return renderer.render(
        found,
        fan,
        now=rt.now(),
        locale=locale,
        campaign=campaign,
        account=account or AccountProfile(id=owner_id),
        variables=variables,
        unsubscribe_url=unsubscribe_url,
        fields=rt.message_fields(),
    )
