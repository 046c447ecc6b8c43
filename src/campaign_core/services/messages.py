"""MessageTemplateService (``ws.messages``): an account's Liquid message templates.

An account sees the built-in templates (the seed's messages,
:func:`campaign_core.messages.builtin_message_template`) and its own; saving a
template with a built-in's name overrides it for that account, deleting the
override brings the built-in back. Every write is validated as
:func:`campaign_core.messages.validate_template` describes (syntax, variables
against the core's declared fan traits, locales, channel limits, a trial
render), checked against the core's messaging settings (channel, topic) and
audited. Rendering goes through the core's renderer, whose compiled templates
live in the core's TTL cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from campaign_core._runtime import Runtime, Service
from campaign_core.audit import audited
from campaign_core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ProblemCollector,
    ValidationError,
)
from campaign_core.jobs.messages import resolve_template
from campaign_core.messages import (
    BUILTIN_MESSAGE_TEMPLATES,
    AccountProfile,
    RenderedMessage,
    builtin_message_template,
    render_preview,
    validate_template,
)
from campaign_core.models import Fan, MessageTemplate
from campaign_core.permissions import Actor, Permission
from campaign_core.query import And, Eq, Order

__all__: list[str] = []

_MISSING: Any = object()


class MessageTemplateService:
    """Message templates of one account (``core.for_actor(actor).messages``)."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def actor(self) -> Actor:
        return self._svc.actor

    @property
    def _account(self) -> str:
        return self._svc.account_id

    # ------------------------------------------------------------------ reads
    def list(self, *, channel: str | None = None) -> list[MessageTemplate]:
        """The account's templates and the built-ins it has not overridden, by name.

        Args:
            channel: only templates of this channel.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction(read_only=True) as tx:
            own = tx.uow.message_templates.find(
                Eq("owner_id", self._account), order_by=[Order("name"), Order("id")]
            )
        names = {t.name for t in own}
        merged = [*own, *(t for t in BUILTIN_MESSAGE_TEMPLATES if t.name not in names)]
        if channel is not None:
            merged = [t for t in merged if t.channel == channel]
        return sorted(merged, key=lambda t: (t.name, t.id))

    def get(self, template_id: str) -> MessageTemplate:
        """A template by id (``builtin:<name>`` for a built-in).

        Raises:
            NotFoundError: no such template in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction(read_only=True) as tx:
            return self._load(tx.uow, template_id, allow_builtin=True)

    def get_by_name(self, name: str) -> MessageTemplate:
        """The template sends named ``name`` use: the account's own, else the built-in.

        Raises:
            NotFoundError: neither the account nor the library has one by that name.
        """
        self._svc._require(Permission.READ)
        if not isinstance(name, str):
            raise ValidationError.single("name", "expected a template name", "invalid_type")
        with self._rt.transaction(read_only=True) as tx:
            found = resolve_template(tx.uow, self._account, name)
        if found is None:
            raise NotFoundError("message template", name)
        return found

    # ----------------------------------------------------------------- writes
    @audited("message_template.create")
    def create(
        self,
        name: Any,
        channel: Any,
        parts: Any,
        *,
        default_locale: Any = "en",
        topic: Any = None,
        description: Any = None,
    ) -> MessageTemplate:
        """Save a new template for the account (a built-in's name overrides the built-in).

        Args:
            name: unique in the account (letters, digits, ``_``, ``.``, ``-``).
            channel: ``email``, ``push``, ``dm`` or ``sms`` (one the core's messaging
                settings have).
            parts: locale -> part -> Liquid source (``{"en": {"text": "Hi {{ fan.first_name }}"}}``).
            default_locale: the locale that ends every fan's fallback chain; must have parts.
            topic: the subscription topic (one of the messaging settings' topics).
            description: free text.

        Raises:
            ValidationError: every problem with its path (``parts.fr.subject``...).
            ConflictError: the account already has a template with that name.
            MissingDependencyError: the ``templates`` extra is not installed.
        """
        self._svc._require(Permission.WRITE)
        clean = self._validate(name, channel, parts, default_locale, topic, description)
        now = self._rt.now()
        template = MessageTemplate(
            id=self._rt.ids.new_id("message_template"),
            owner_id=self._account,
            created_at=now,
            updated_at=now,
            **clean,
        )
        with self._rt.transaction() as tx:
            if tx.uow.message_templates.find(
                And(Eq("owner_id", self._account), Eq("name", template.name)), limit=1
            ):
                raise ConflictError(
                    f"a message template named {template.name!r} exists; update it instead",
                    details={"name": template.name},
                )
            tx.uow.message_templates.add(template)
        return template

    @audited("message_template.update")
    def update(
        self,
        template_id: str,
        *,
        parts: Any = _MISSING,
        default_locale: Any = _MISSING,
        topic: Any = _MISSING,
        description: Any = _MISSING,
        expected_version: int | None = None,
    ) -> MessageTemplate:
        """Change a template of the account; its version goes up by one.

        The channel and name stay (a new channel is a new template). The whole
        template is validated again, as at creation.

        Raises:
            NotFoundError: no such template in the account.
            PermissionDeniedError: the template is built in (save one with its name instead).
            ConflictError: ``expected_version`` is not the stored version, or a
                concurrent update won.
            ValidationError: every problem with its path.
        """
        self._svc._require(Permission.WRITE)
        with self._rt.transaction(read_only=True) as tx:
            current = self._load(tx.uow, template_id, allow_builtin=True)
        if current.owner_id is None:
            raise PermissionDeniedError(
                "built-in templates are read-only; create one with the same name to override it"
            )
        clean = self._validate(
            current.name,
            current.channel,
            current.parts if parts is _MISSING else parts,
            current.default_locale if default_locale is _MISSING else default_locale,
            current.topic if topic is _MISSING else topic,
            current.description if description is _MISSING else description,
        )
        with self._rt.transaction() as tx:
            stored = self._load(tx.uow, template_id, allow_builtin=False)
            if expected_version is not None and stored.version != expected_version:
                raise ConflictError(
                    f"message template {template_id!r} is at version {stored.version}, "
                    f"not {expected_version}",
                    details={"id": template_id, "version": stored.version},
                )
            updated = MessageTemplate(
                id=stored.id,
                owner_id=stored.owner_id,
                created_at=stored.created_at,
                updated_at=self._rt.now(),
                version=stored.version + 1,
                **clean,
            )
            tx.uow.message_templates.update(updated)
        return updated

    @audited("message_template.delete")
    def delete(self, template_id: str) -> None:
        """Delete a template of the account (a built-in it overrode comes back).

        Raises:
            NotFoundError: no such template in the account.
            PermissionDeniedError: the template is built in.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            template = self._load(tx.uow, template_id, allow_builtin=True)
            if template.owner_id is None:
                raise PermissionDeniedError("built-in templates are read-only")
            tx.uow.message_templates.delete(template.id)

    # ---------------------------------------------------------------- preview
    def render_preview(
        self,
        template: MessageTemplate | str,
        *,
        fan_id: str | None = None,
        sample_fan: Mapping[str, Any] | None = None,
        locale: str | None = None,
        campaign_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        account: AccountProfile | None = None,
    ) -> RenderedMessage:
        """Each rendered part and the warnings, for the host's template editor.

        Args:
            template: a template record (a draft is fine) or the name sends use.
            fan_id: preview for this fan of the account (the host's fan id);
                a sample fan with every field when neither it nor ``sample_fan``
                is given.
            sample_fan: a fan as a mapping of its fields, instead of a stored one.
            locale: the locale to preview; the fan's, else the account's default.
            campaign_id: a campaign of the account for ``campaign.*``.
            variables: the send's variables (``vars.*``).
            account: the account's name, default locale, currency, zone.

        Raises:
            NotFoundError: the template, fan or campaign is not in the account.
            MissingDependencyError: the ``templates`` extra is not installed.
        """
        self._svc._require(Permission.READ)
        if isinstance(template, str):
            template = self.get_by_name(template)
        fan: Fan | Mapping[str, Any] | None = sample_fan
        campaign = None
        with self._rt.transaction(read_only=True) as tx:
            if fan_id is not None:
                found = tx.uow.fans.find(
                    And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1
                )
                if not found:
                    raise NotFoundError("fan", fan_id)
                fan = found[0]
            if campaign_id is not None:
                campaign = self._svc._owned(
                    tx.uow.campaigns.get(campaign_id), "campaign", campaign_id
                )
        return render_preview(
            template,
            fan,
            now=self._rt.now(),
            locale=locale,
            campaign=campaign,
            account=account or AccountProfile(id=self._account),
            variables=variables,
            fields=self._rt.message_fields(),
            renderer=self._rt.message_renderer(),
        )

    # ---------------------------------------------------------------- helpers
    def _load(self, uow: Any, template_id: Any, *, allow_builtin: bool) -> MessageTemplate:
        if not isinstance(template_id, str):
            raise ValidationError.single("template_id", "expected an id string", "invalid_type")
        if allow_builtin and template_id.startswith("builtin:"):
            builtin = builtin_message_template(template_id.removeprefix("builtin:"))
            if builtin is not None:
                return builtin
        record: MessageTemplate = self._svc._owned(
            uow.message_templates.get(template_id), "message template", template_id, "owner_id"
        )
        return record

    def _validate(
        self,
        name: Any,
        channel: Any,
        parts: Any,
        default_locale: Any,
        topic: Any,
        description: Any,
    ) -> dict[str, Any]:
        messaging = self._rt.settings.messaging
        problems = ProblemCollector()
        if isinstance(channel, str) and channel not in messaging.channels:
            problems.add(
                "channel",
                f"channel {channel!r} is not one of the core's messaging channels: "
                + ", ".join(messaging.channels),
            )
        if isinstance(topic, str) and topic not in messaging.topics:
            problems.add(
                "topic",
                f"unknown topic {topic!r}; the messaging settings have "
                + ", ".join(sorted(messaging.topics)),
            )
        try:
            clean = validate_template(
                name=name,
                channel=channel,
                parts=parts,
                default_locale=default_locale,
                topic=topic,
                description=description,
                renderer=self._rt.message_renderer(),
                fields=self._rt.message_fields(),
                now=self._rt.now(),
                account=AccountProfile(id=self._account),
            )
        except ValidationError as error:
            problems.extend(error)
            clean = {}
        problems.raise_if_any()
        return clean
