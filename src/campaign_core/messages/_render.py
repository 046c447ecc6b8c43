"""Rendering a message template for one fan: locale, context, limits, per-fan failure.

:class:`MessageRenderer` holds the compiled-template cache and the limits; one
core keeps one. Rendering never raises for something a fan's data or a
template does: the answer is a :class:`RenderedMessage` whose ``ok`` is false
and whose ``reason`` says why (``undefined_variable``, ``resource_limit``,
``render_error``, ``too_long``, ``no_locale``, ``invalid_template``), so one
fan's failure is counted and the batch goes on.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import attrs

from campaign_core.criteria import DAY_MS
from campaign_core.errors import MissingDependencyError
from campaign_core.messages._fields import MessageFields
from campaign_core.messages._limits import MessageLimits, RenderLimits, sms_segments
from campaign_core.messages._locales import choose_locale, locale_chain, normalize_locale
from campaign_core.models import MESSAGE_PARTS, Fan, MessageTemplate

if TYPE_CHECKING:
    from campaign_core.messages._engine import Engine

__all__ = [
    "AccountProfile",
    "CompiledCache",
    "MessageRenderer",
    "RenderedMessage",
    "fan_namespace",
    "sample_fan",
]

V = TypeVar("V")

_FAN_ATTRS: Final = (
    "id",
    "owner_id",
    "fan_id",
    "platform",
    "spending_level",
    "engagement",
    "lifetime_value",
    "subscription_status",
    "subscribed_at",
    "last_activity_at",
    "time_zone",
    "opted_out",
    "created_at",
)
_DERIVED: Final = (
    ("no_activity_days", "last_activity_at"),
    ("days_since_subscribed", "subscribed_at"),
    ("days_since_created", "created_at"),
)


class CompiledCache(Protocol):
    """Where compiled templates are kept: the core's ``caches.templates`` (a TTL cache)."""

    def get_or_load(self, key: Hashable, load: Callable[[], Any]) -> Any: ...


class _LruCache:
    """A small bounded cache for renderers built without the core's TTL cache."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._max = max_entries

    def get_or_load(self, key: Hashable, load: Callable[[], Any]) -> Any:
        try:
            self._data.move_to_end(key)
            return self._data[key]
        except KeyError:
            value = load()
            self._data[key] = value
            if len(self._data) > self._max:
                self._data.popitem(last=False)
            return value


class _Open(dict[str, Any]):
    """A free-form mapping (``vars``, ``campaign.content``): a missing key is nil."""

    def __missing__(self, key: str) -> None:
        return None


def _open(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Open({str(k): _open(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [_open(v) for v in value]
    return value


@attrs.frozen
class AccountProfile:
    """The sending account, as templates see it (``{{ account.name }}``).

    Attributes:
        id: the account (owner) id.
        name: its display name.
        default_locale: where a fan's locale chain ends (``fr-CA`` -> ``fr`` -> this).
        currency: the ISO-4217 code ``money`` uses when none is given.
        time_zone: the zone for fans without one (IANA name); UTC when None.
        website_url: for templates' links.
        utm_source: the ``utm_source`` that ``track_link`` adds.
    """

    id: str = ""
    name: str | None = None
    default_locale: str = "en"
    currency: str = "USD"
    time_zone: str | None = None
    website_url: str | None = None
    utm_source: str = "campaign-core"

    def namespace(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "currency": self.currency,
            "default_locale": self.default_locale,
            "time_zone": self.time_zone,
            "website_url": self.website_url,
        }


@attrs.frozen
class RenderedMessage:
    """One fan's message, or why it could not be rendered.

    Attributes:
        ok: whether every part rendered within its limits.
        template: the template's name.
        channel: its channel.
        locale: the locale of the parts used (after the fallback chain), if any.
        parts: part name -> rendered text (empty when not ``ok``).
        warnings: things an editor should see (a locale fallback, an SMS in
            several segments or in UCS-2...); they do not stop a send.
        reason: why not ``ok``: ``undefined_variable``, ``resource_limit``,
            ``render_error``, ``too_long``, ``no_locale`` or ``invalid_template``.
        detail: a human-readable explanation of ``reason``.
        part: the part that failed, as ``<locale>.<part>``.
    """

    ok: bool
    template: str
    channel: str
    locale: str | None
    parts: Mapping[str, str] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()
    reason: str | None = None
    detail: str | None = None
    part: str | None = None


def _days(now: datetime, then: Any) -> float | None:
    if not isinstance(then, datetime):
        return None
    return float(int((now - then) / timedelta(milliseconds=1)) // DAY_MS)


def fan_namespace(
    fan: Fan | Mapping[str, Any], fields: MessageFields, now: datetime
) -> dict[str, Any]:
    """The ``fan`` a template sees: every field it may read, ``None`` where the fan has none.

    Args:
        fan: a :class:`~campaign_core.models.Fan` or a mapping of its fields
            (snake_case names, custom traits under ``traits``).
        fields: the account's variables (declared traits).
        now: the time of the send, for derived fields (``no_activity_days``).
    """
    if isinstance(fan, Fan):
        values: dict[str, Any] = {name: getattr(fan, name) for name in _FAN_ATTRS}
        traits: Mapping[str, Any] = fan.traits
    else:
        values = {k: v for k, v in fan.items() if k != "traits"}
        raw = fan.get("traits")
        traits = raw if isinstance(raw, Mapping) else {}
    out: dict[str, Any] = dict.fromkeys(fields.fan_fields)
    out.update(values)
    trait_ns: dict[str, Any] = dict.fromkeys(fields.traits)
    for key, value in traits.items():
        trait_ns[key] = _open(value) if isinstance(value, Mapping | list | tuple) else value
    for name in fields.traits:
        if out.get(name) is None:
            out[name] = trait_ns[name]
    for name, source in _DERIVED:
        then = out.get(source)
        out[name] = None if then is None else _days(now, then)
    status = out.get("subscription_status")
    out["subscribed"] = None if status is None else status == "active"
    out["traits"] = trait_ns
    return out


_SAMPLES: Final[Mapping[str, Any]] = {
    "first_name": "Alex",
    "last_name": "Martin",
    "display_name": "Alex M.",
    "username": "alex",
    "locale": None,
    "fan_id": "sample-fan",
    "id": "sample-fan",
    "owner_id": "sample-account",
    "platform": "onlyfans",
    "spending_level": "medium",
    "engagement": 3.5,
    "lifetime_value": 120.0,
    "subscription_status": "active",
    "time_zone": "UTC",
    "opted_out": False,
}


def sample_fan(fields: MessageFields | None = None, *, now: datetime) -> dict[str, Any]:
    """A fan with a plausible value in every field the account's templates may read.

    Previews and the trial render at save use it; declared traits get a value of
    their type (``"sample"``, ``42``, ``true``, a date, ``["sample"]``).
    """
    fields = fields or MessageFields.from_registry()
    fan: dict[str, Any] = {name: _SAMPLES.get(name) for name in fields.fan_fields}
    fan.update(
        subscribed_at=now - timedelta(days=30),
        last_activity_at=now - timedelta(days=2),
        created_at=now - timedelta(days=60),
    )
    by_type = {
        "string": "sample",
        "number": 42,
        "boolean": True,
        "datetime": now - timedelta(days=7),
        "string_list": ["sample"],
    }
    traits = {name: by_type.get(kind, "sample") for name, kind in fields.trait_types}
    traits.update({k: v for k, v in _SAMPLES.items() if k in fields.traits})
    fan["traits"] = traits
    return fan


_NO_VARS: Final[Mapping[str, Any]] = {}


def _campaign_namespace(campaign: Any) -> dict[str, Any]:
    # without a campaign every field is nil, so `campaign.x | default: ...` still works
    if campaign is None:
        return _NO_CAMPAIGN
    data: dict[str, Any]
    if isinstance(campaign, Mapping):
        data = dict(campaign)
    else:
        data = {name: getattr(campaign, name, None) for name in _CAMPAIGN_ATTRS}
        data["type"] = str(data["type"]) if data.get("type") is not None else None
        data["status"] = str(data["status"]) if data.get("status") is not None else None
        data["platforms"] = [str(p) for p in data.get("platforms") or ()]
    out = _Open(dict.fromkeys(_CAMPAIGN_ATTRS))
    out.update({k: _open(v) for k, v in data.items()})
    for key in ("content", "goals"):
        if not isinstance(out.get(key), Mapping):
            out[key] = _Open()
    return out


_CAMPAIGN_ATTRS: Final = (
    "id",
    "name",
    "description",
    "type",
    "status",
    "platforms",
    "budget",
    "scheduled_for",
    "content",
    "goals",
)

# templates only read their namespaces, so one empty campaign serves every render
_NO_CAMPAIGN: Final[dict[str, Any]] = _Open(dict.fromkeys(_CAMPAIGN_ATTRS))
_NO_CAMPAIGN.update(content=_Open(), goals=_Open())


def _engine_module() -> Any:
    try:
        from campaign_core.messages import _engine
    except ImportError as exc:  # python-liquid or babel missing
        raise MissingDependencyError("templates", exc.name or "python-liquid") from None
    return _engine


class MessageRenderer:
    """Compiles, validates and renders message templates.

    Args:
        limits: the length limit of each part on its channel.
        render_limits: what rendering one message may cost.
        cache: where compiled templates are kept (the core passes its
            ``caches.templates``, the seed's one-hour TTL cache); a bounded LRU
            when None. Keys are the sources themselves, so an edited template
            never reads a stale compilation.
        timer: a monotonic clock in seconds for the render time budget
            (``time.perf_counter``; tests inject a fake one).

    Raises:
        MissingDependencyError: python-liquid or babel is not installed (extra
            ``templates``), when the renderer is built.
    """

    def __init__(
        self,
        *,
        limits: MessageLimits | None = None,
        render_limits: RenderLimits | None = None,
        cache: CompiledCache | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        engine_module = _engine_module()
        self.limits = limits or MessageLimits.default()
        self.render_limits = render_limits or RenderLimits()
        self.engine: Engine = engine_module.Engine(self.render_limits, timer)
        self._engine_module = engine_module
        self._cache: CompiledCache = cache if cache is not None else _LruCache()
        self._part_limits = {
            (channel, part): limit for channel, parts in self.limits.parts for part, limit in parts
        }

    def parse(self, source: str, *, html: bool) -> Any:
        """The compiled part, a python-liquid ``BoundTemplate`` cached by its source.

        A source that does not parse raises python-liquid's ``LiquidError``
        (syntax, nesting); :func:`validate_template` turns those into problems.
        """
        return self._cache.get_or_load(
            ("message-part", html, source), lambda: self.engine.parse(source, html=html)
        )

    def render(
        self,
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
        budget: bool = True,
    ) -> RenderedMessage:
        """Render every part of ``template`` for ``fan``.

        Args:
            template: the template (validated at save).
            fan: a fan record or a mapping of its fields.
            now: the time of the send (``now`` in templates, relative times).
            locale: the locale to render in; the fan's ``locale`` trait when None.
            campaign: the campaign being sent (a record or a mapping), if any.
            account: the sending account; its default locale ends the fallback chain.
            variables: the send's variables (``vars`` in templates).
            unsubscribe_url: the fan's signed unsubscribe link.
            fields: the account's variables (declared traits), for missing values.
            budget: whether to bound the render time (a trial render at save
                and the benchmark's baseline comparison turn it on too).

        Returns:
            The rendered parts and the locale used, or a failure with its reason.
        """
        account = account or AccountProfile()
        fields = fields or _default_fields()
        fan_ns = fan_namespace(fan, fields, now)
        requested = locale or _str(fan_ns.get("locale"))
        chosen = _choose(requested, tuple(template.parts), account.default_locale)
        if chosen is None:
            chosen = template.default_locale if template.default_locale in template.parts else None

        def failed(reason: str, detail: str, part: str | None = None) -> RenderedMessage:
            return RenderedMessage(
                ok=False,
                template=template.name,
                channel=template.channel,
                locale=chosen,
                reason=reason,
                detail=detail,
                part=part,
            )

        if chosen is None:
            return failed("no_locale", "the template has no parts in any locale")
        engine_module = self._engine_module
        format_tag = _format_locale(requested, chosen)
        babel_locale = engine_module.babel_locale(format_tag) or engine_module.babel_locale(
            normalize_locale(account.default_locale) or "en"
        )
        if babel_locale is None:
            babel_locale = engine_module.babel_locale("en")
        state = engine_module.RenderState(
            locale=babel_locale,
            tz=engine_module.time_zone(_str(fan_ns.get("time_zone")) or account.time_zone),
            now=now,
            currency=account.currency,
            channel=template.channel,
            template=template.name,
            campaign_id=_campaign_id(campaign),
            utm_source=account.utm_source,
            budget=self.engine.budget() if budget else None,
        )
        namespace = {
            "fan": fan_ns,
            "campaign": _campaign_namespace(campaign),
            "account": _account_namespace(account),
            # free-form: a missing key is a lenient undefined (nil), see _engine._Undefined
            "vars": variables if variables is not None else _NO_VARS,
            "unsubscribe_url": unsubscribe_url or "",
            "now": now,
        }
        html_parts = _HTML_PARTS.get(template.channel, ())
        rendered: dict[str, str] = {}
        for part, source in template.parts[chosen].items():
            where = f"{chosen}.{part}"
            try:
                compiled = self.parse(source, html=part in html_parts)
            except Exception as exc:
                return failed("invalid_template", _describe(exc), where)
            try:
                text = self.engine.render(compiled, namespace, state)
            except Exception as exc:
                return failed(self._reason(exc), _describe(exc), where)
            limit = self._part_limits.get((template.channel, part))
            problem = limit.problem(text) if limit is not None else None
            if problem is not None:
                return failed("too_long", f"{where} {problem}", where)
            rendered[part] = text
        warnings = self._warnings(template, requested, chosen, rendered)
        return RenderedMessage(
            ok=True,
            template=template.name,
            channel=template.channel,
            locale=chosen,
            parts=rendered,
            warnings=warnings,
        )

    def _reason(self, exc: Exception) -> str:
        from liquid.exceptions import ResourceLimitError, UndefinedError

        if isinstance(exc, UndefinedError):
            return "undefined_variable"
        if isinstance(exc, ResourceLimitError):
            return "resource_limit"
        return "render_error"

    def _warnings(
        self,
        template: MessageTemplate,
        requested: str | None,
        chosen: str,
        rendered: Mapping[str, str],
    ) -> tuple[str, ...]:
        warnings: list[str] = []
        if requested and (normalize_locale(requested) or requested) != (
            normalize_locale(chosen) or chosen
        ):
            warnings.append(f"no parts in {requested!r}; rendered in {chosen!r}")
        for part, text in rendered.items():
            if not text.strip():
                warnings.append(f"{chosen}.{part} renders empty")
        if template.channel == "sms" and "text" in rendered:
            count = sms_segments(rendered["text"])
            if count.segments > 1 or count.encoding != "GSM-7":
                warnings.append(
                    f"{chosen}.text is {count.segments} SMS segment(s) in {count.encoding}"
                    f" ({count.units} units)"
                )
        return tuple(warnings)


_HTML_PARTS: Final[Mapping[str, tuple[str, ...]]] = {"email": ("html",)}
assert set(_HTML_PARTS) <= set(MESSAGE_PARTS)


@functools.lru_cache(maxsize=256)
def _account_namespace(account: AccountProfile) -> dict[str, Any]:
    # templates only read it; one dict per account profile
    return account.namespace()


@functools.lru_cache(maxsize=4096)
def _choose(requested: str | None, available: tuple[str, ...], default: str) -> str | None:
    return choose_locale(requested, available, default)


@functools.lru_cache(maxsize=4096)
def _format_locale(requested: str | None, chosen: str) -> str:
    # fr-CA reading the fr parts formats numbers and dates the Canadian way
    tag = normalize_locale(requested) if requested else None
    chosen_tag = normalize_locale(chosen) or chosen
    if tag and chosen_tag in locale_chain(tag, chosen_tag):
        return tag
    return chosen_tag


def _campaign_id(campaign: Any) -> str | None:
    if campaign is None:
        return None
    value = campaign.get("id") if isinstance(campaign, Mapping) else getattr(campaign, "id", None)
    return str(value) if value is not None else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(exc: Exception) -> str:
    from liquid.exceptions import LiquidError

    if isinstance(exc, LiquidError):
        message = exc.message
        text = str(message) if message is not None else type(exc).__name__
        where = exc.context()
        return f"line {where[0]}, column {where[1] + 1}: {text}" if where else text
    return f"{type(exc).__name__}: {exc}"


_FIELDS_DEFAULT: list[MessageFields] = []


def _default_fields() -> MessageFields:
    if not _FIELDS_DEFAULT:
        _FIELDS_DEFAULT.append(MessageFields.from_registry())
    return _FIELDS_DEFAULT[0]
