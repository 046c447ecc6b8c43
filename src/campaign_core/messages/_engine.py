"""The Liquid engine behind message templates (python-liquid), sandboxed and bounded.

Imported only when a template is parsed or rendered, so the core imports without
the ``templates`` extra. What makes it safe to render a template an account user
wrote, for 100,000 fans:

- no loader: ``include`` and ``render`` are not tags here, so a template cannot
  read a file, another template or itself (a recursive include is a syntax error);
- values are plain dicts, lists and scalars: Liquid looks items up, never Python
  attributes, so nothing reaches code;
- strict undefined and strict filters: a path that is not there or an unknown
  filter is an error, not an empty string (``default`` still works);
- python-liquid's resource limits (block nesting at parse; loop iterations,
  context depth, local namespace and output size at render), and a time budget
  checked while rendering, through an injected timer.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import attrs
import babel
import babel.dates
import babel.numbers
from liquid import BoundTemplate, Environment, Mode, RenderContext, StrictDefaultUndefined
from liquid.exceptions import LiquidError, ResourceLimitError
from liquid.filter import with_context
from liquid.output import LimitedStringIO
from liquid.undefined import UNDEFINED, Undefined

from campaign_core.messages._limits import RenderLimits

__all__ = ["Engine", "RenderState", "RenderTimeoutError"]

_UTC = dt.UTC
# Liquid's date filter formats with strftime; ours takes CLDR names and patterns too
_STRFTIME = re.compile(r"%[A-Za-z]")


class RenderTimeoutError(ResourceLimitError):
    """The message took longer than ``max_render_seconds`` to render."""


@attrs.define
class _Budget:
    timer: Callable[[], float]
    deadline: float
    ticks: int = 0

    def tick(self) -> None:
        self.ticks += 1
        if not self.ticks & 63 and self.timer() > self.deadline:
            raise RenderTimeoutError("render time limit reached", token=None)


@attrs.define
class RenderState:
    """What the filters need about this render: the fan's locale and zone, the send."""

    locale: babel.Locale
    tz: dt.tzinfo
    now: dt.datetime
    currency: str
    channel: str
    template: str
    campaign_id: str | None
    utm_source: str
    budget: _Budget | None = None


class _Context(RenderContext):
    __slots__ = ("state",)
    state: RenderState


class _TimedContext(_Context):
    """A context that checks the time budget on every variable lookup (templates with loops)."""

    __slots__ = ()

    def get(self, path: list[object], *, token: Any, default: object = UNDEFINED) -> object:
        budget = self.state.budget
        if budget is not None:
            budget.tick()
        return super().get(path, token=token, default=default)


class _TimedBuffer(LimitedStringIO):
    def __init__(self, limit: int, budget: _Budget | None) -> None:
        super().__init__(limit=limit)
        self._budget = budget

    def write(self, s: str) -> int:
        if self._budget is not None:
            self._budget.tick()
        return super().write(s)


class _Template(BoundTemplate):
    context_class = _Context
    # Without loops, the work of a render is bounded by the source's size (and
    # assigns by the namespace limit): only templates with loops pay for the clock.
    looping: bool = True


_LOOP_TAGS: Final = frozenset({"for", "tablerow"})


def _state(context: Any) -> RenderState:
    return context.state  # type: ignore[no-any-return]


def _blank(value: object) -> bool:
    return value is None or isinstance(value, Undefined) or value == ""


def _number(value: object) -> Decimal | int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _moment(value: object, state: RenderState) -> dt.datetime | None:
    """A datetime from a datetime, a date, an ISO string, a Unix time or ``now``."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=state.tz)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in ("now", "today"):
            moment = state.now
        else:
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = dt.datetime.fromtimestamp(value, _UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return moment


@with_context
def _money(value: object, currency: object = None, *, context: Any) -> str:
    """``{{ 19.99 | money }}`` -> ``$19.99`` (en-US), ``19,99 €`` with ``money: "EUR"`` (fr)."""
    state = _state(context)
    amount = _number(value)
    if amount is None:
        return ""
    code = currency if isinstance(currency, str) and currency else state.currency
    try:
        return babel.numbers.format_currency(amount, code.upper(), locale=state.locale)
    except (babel.numbers.UnknownCurrencyError, ValueError):
        return babel.numbers.format_decimal(amount, locale=state.locale) + f" {code}"


@with_context
def _number_filter(value: object, decimals: object = None, *, context: Any) -> str:
    """``{{ 1234.5 | number }}`` -> ``1,234.5`` (en), ``1 234,5`` (fr); ``number: 2`` fixes decimals."""
    state = _state(context)
    amount = _number(value)
    if amount is None:
        return ""
    if isinstance(decimals, int) and not isinstance(decimals, bool) and 0 <= decimals <= 10:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return babel.numbers.format_decimal(amount, format=pattern, locale=state.locale)
    return babel.numbers.format_decimal(amount, locale=state.locale)


@with_context
def _percent(value: object, decimals: object = None, *, context: Any) -> str:
    """``{{ 0.25 | percent }}`` -> ``25%`` (en), ``25 %`` (fr, de)."""
    state = _state(context)
    amount = _number(value)
    if amount is None:
        return ""
    if isinstance(decimals, int) and not isinstance(decimals, bool) and 0 < decimals <= 10:
        return babel.numbers.format_percent(
            amount, format="#,##0." + "0" * decimals + "%", locale=state.locale
        )
    return babel.numbers.format_percent(amount, locale=state.locale)


def _dates(kind: str, default: str) -> Callable[..., str]:
    @with_context
    def _filter(value: object, fmt: object = default, *, context: Any) -> str:
        state = _state(context)
        moment = _moment(value, state)
        if moment is None:
            return ""
        local = moment.astimezone(state.tz)
        pattern = fmt if isinstance(fmt, str) and fmt else default
        if _STRFTIME.search(pattern):
            return local.strftime(pattern)
        if kind == "date":
            return babel.dates.format_date(local.date(), pattern, locale=state.locale)
        if kind == "time":
            return babel.dates.format_time(local, pattern, tzinfo=state.tz, locale=state.locale)
        return babel.dates.format_datetime(local, pattern, tzinfo=state.tz, locale=state.locale)

    return _filter


@with_context
def _relative_time(value: object, granularity: object = "second", *, context: Any) -> str:
    """``{{ campaign.scheduled_for | relative_time }}`` -> ``in 3 days`` / ``dans 3 jours``."""
    state = _state(context)
    if isinstance(value, int | float) and not isinstance(value, bool):
        delta = dt.timedelta(seconds=value)
    else:
        moment = _moment(value, state)
        if moment is None:
            return ""
        delta = moment - state.now
    unit = _GRANULARITY.get(granularity if isinstance(granularity, str) else "", "second")
    return babel.dates.format_timedelta(
        delta, granularity=unit, add_direction=True, locale=state.locale
    )


_GRANULARITY: Final[
    dict[str, Literal["year", "month", "week", "day", "hour", "minute", "second"]]
] = {
    "year": "year",
    "month": "month",
    "week": "week",
    "day": "day",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
}


@with_context
def _track_link(url: object, content: object = None, *, context: Any) -> str:
    """Add ``utm_source``, ``utm_medium`` (the channel), ``utm_campaign`` and ``utm_content``.

    Parameters the link already has are kept; links that are not http(s) pass unchanged.
    """
    state = _state(context)
    if not isinstance(url, str):
        return "" if _blank(url) else str(url)
    label = content if isinstance(content, str) and content else state.template
    return _tracked(
        url, state.utm_source, state.channel, state.campaign_id or state.template, label
    )


@functools.lru_cache(maxsize=4096)
def _tracked(url: str, source: str, medium: str, campaign: str, content: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    wanted = {
        "utm_source": source,
        "utm_medium": medium,
        "utm_campaign": campaign,
        "utm_content": content,
    }
    query += [(key, val) for key, val in wanted.items() if key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


FILTERS: dict[str, Callable[..., Any]] = {
    "money": _money,
    "number": _number_filter,
    "percent": _percent,
    "date": _dates("date", "medium"),
    "datetime": _dates("datetime", "medium"),
    "time": _dates("time", "short"),
    "relative_time": _relative_time,
    "track_link": _track_link,
}
"""Our filters, added to Liquid's standard ones (``date`` replaces Liquid's: strftime
formats still work, CLDR names and patterns format in the fan's locale and zone)."""


@functools.lru_cache(maxsize=256)
def babel_locale(tag: str) -> babel.Locale | None:
    """The babel locale for a tag (``pt-BR``), or ``None`` when CLDR does not know it."""
    try:
        return babel.Locale.parse(tag, sep="-")
    except (ValueError, babel.UnknownLocaleError):
        return None


@functools.lru_cache(maxsize=1024)
def time_zone(name: str | None) -> dt.tzinfo:
    """The zone for an IANA name; UTC when missing or unknown."""
    if not name:
        return _UTC
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return _UTC


class Engine:
    """Two Liquid environments (HTML autoescaped, plain) with one set of limits."""

    def __init__(self, limits: RenderLimits, timer: Callable[[], float]) -> None:
        self.limits = limits
        self.timer = timer
        attributes: dict[str, Any] = {
            "block_nesting_limit": limits.max_nesting,
            "context_depth_limit": limits.max_context_depth,
            "loop_iteration_limit": limits.max_loop_iterations,
            "local_namespace_limit": limits.max_locals_bytes,
            "output_stream_limit": limits.max_output_bytes,
            "template_class": _Template,
        }
        env_class: type[Environment] = type("MessageEnvironment", (_BaseEnvironment,), attributes)
        self.html = env_class(autoescape=True)
        self.plain = env_class(autoescape=False)

    def parse(self, source: str, *, html: bool) -> BoundTemplate:
        """Parse one part; raises python-liquid's errors (syntax, nesting)."""
        env = self.html if html else self.plain
        template = env.from_string(source)
        tags = template.analyze(include_partials=False).tags
        template.looping = bool(_LOOP_TAGS.intersection(tags))  # type: ignore[attr-defined]
        return template

    def filter_names(self) -> frozenset[str]:
        return frozenset(self.plain.filters)

    def render(
        self, template: BoundTemplate, namespace: Mapping[str, object], state: RenderState
    ) -> str:
        """Render one part; raises python-liquid's errors (undefined, limits, filters)."""
        context: _Context
        buffer: LimitedStringIO
        if getattr(template, "looping", True) and state.budget is not None:
            context = _TimedContext(template, globals=namespace)
            buffer = _TimedBuffer(self.limits.max_output_bytes, state.budget)
        else:
            context = _Context(template, globals=namespace)
            buffer = LimitedStringIO(self.limits.max_output_bytes)
        context.state = state
        template.render_with_context(context, buffer)
        return buffer.getvalue()

    def budget(self) -> _Budget:
        """A fresh time budget for one message."""
        return _Budget(self.timer, self.timer() + self.limits.max_render_seconds)


class _Undefined(StrictDefaultUndefined):
    """Strict, except under ``vars`` and ``campaign``: free-form data where a missing
    key is nil (``{{ vars.game | default: "your game" }}``); every other path was
    checked at save, so reaching an undefined one is an error for that fan."""

    def __new__(cls, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in _LENIENT_ROOTS:
            return Undefined(name, *args, **kwargs)
        return super().__new__(cls)


_LENIENT_ROOTS: Final = frozenset({"vars", "campaign"})


class _BaseEnvironment(Environment):
    template_class: ClassVar[type[BoundTemplate]] = _Template  # type: ignore[misc]

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            tolerance=Mode.STRICT,
            undefined=_Undefined,
            strict_filters=True,
            autoescape=autoescape,
        )
        # no loader, no partials: a template reads nothing but its own text
        for tag in ("include", "render"):
            self.tags.pop(tag, None)
        for name, func in FILTERS.items():
            self.add_filter(name, func)


def error_position(error: LiquidError) -> tuple[int, int] | None:
    """The 1-based line and column an error points at, when it has one."""
    try:
        where = error.context()
    except ValueError:
        return None
    if where is None:
        return None
    return where[0], where[1] + 1


def error_message(error: LiquidError) -> str:
    """The error's own message, without python-liquid's source excerpt."""
    message = error.message
    return str(message) if message is not None else type(error).__name__
