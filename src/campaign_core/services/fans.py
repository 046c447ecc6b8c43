"""FanService: the audience of an account: fans, their traits, and their events.

A fan is identified by the host's id for the person (``fan_id``, the seed's
``userId`` on segment members and conversions), unique per account. Built-in
fields cover what the seed's criteria and workflows use; custom traits must be
declared by the host (``Settings(fan_traits={"favorite_game": "string"})``)
so that criteria on them can be type-checked.

Recording an event updates the fan's ``last_activity_at`` and creates the fan
if the account has not seen them before; event triggers of automations fire
from it.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._text import text_problem
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_bool,
    v_datetime,
    v_enum,
    v_id,
    v_int,
    v_json_object,
    v_number,
)
from campaign_core.audit import audited, pseudonymize
from campaign_core.errors import NotFoundError, ProblemCollector, join_path
from campaign_core.jobs.segments import forget_segment_sizes
from campaign_core.models import (
    FAN_FIELDS,
    AuditRecord,
    Fan,
    FanEvent,
    SpendingLevel,
    SubscriptionStatus,
    TraitType,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.query import And, Cond, Eq, Gte, In, Lt, Order
from campaign_core.services._fan_messaging import (
    FanMessaging,
)
from campaign_core.services._fan_messaging import list_unsubscribe as list_unsubscribe
from campaign_core.services._fan_messaging import unsubscribe as unsubscribe

__all__: list[str] = []


_EVENT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_MAX_SCORE: Final = 1e12
_FUTURE_SLACK: Final = timedelta(days=1)


@attrs.frozen
class ImportReport:
    """What ``import_fans`` did."""

    created: int
    updated: int
    total: int


_MAX_ADDRESS: Final = 320


def clean_addresses(
    value: Any, path: str, problems: ProblemCollector, channels: Sequence[str]
) -> dict[str, str | None] | None:
    """A fan's ``{channel: address}``: known channels, non-empty addresses (None removes one)."""
    if not isinstance(value, Mapping):
        problems.add(path, "expected an object of channel -> address", "invalid_type")
        return None
    out: dict[str, str | None] = {}
    for channel, address in value.items():
        sub = join_path(path, str(channel))
        if channel not in channels:
            problems.add(
                sub, f"unknown channel (channels: {', '.join(channels)})", "unknown_channel"
            )
            continue
        if address is None:
            out[channel] = None
            continue
        if not isinstance(address, str) or not address.strip() or len(address) > _MAX_ADDRESS:
            problems.add(sub, f"expected an address of 1-{_MAX_ADDRESS} characters")
            continue
        if channel == "email" and ("@" not in address or any(c.isspace() for c in address.strip())):
            problems.add(sub, "expected an email address such as 'fan@example.com'")
            continue
        out[channel] = address.strip()
    return out


def _clean_trait(value: Any, kind: TraitType, path: str, problems: ProblemCollector) -> Any:
    if value is None:
        return None
    if kind is TraitType.STRING:
        if not isinstance(value, str) or len(value) > 1000:
            problems.add(path, "expected a string of at most 1000 characters", "invalid_type")
            return None
        return _storable(value, path, problems)
    if kind is TraitType.NUMBER:
        return v_number(value, path, problems, minimum=-_MAX_SCORE, maximum=_MAX_SCORE)
    if kind is TraitType.BOOLEAN:
        return v_bool(value, path, problems)
    if kind is TraitType.DATETIME:
        clean = v_datetime(value, path, problems)
        return None if clean is None else clean.isoformat().replace("+00:00", "Z")
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) > 100:
        problems.add(path, "expected a list of at most 100 strings", "invalid_type")
        return None
    if not all(isinstance(v, str) and len(v) <= 200 for v in value):
        problems.add(
            path, "expected a list of strings (at most 200 characters each)", "invalid_type"
        )
        return None
    items = [_storable(v, join_path(path, i), problems) for i, v in enumerate(value)]
    return None if None in items else items


def _storable(value: str, path: str, problems: ProblemCollector) -> str | None:
    problem = text_problem(value)
    if problem is None:
        return value
    problems.add(path, problem, "invalid_value")
    return None


def _twice(problems: ProblemCollector, index: int, fan_id: str) -> None:
    problems.add(
        join_path(join_path("rows", index), "fan_id"),
        f"{fan_id!r} appears twice in the import",
        "duplicate",
    )


class _SeenIds:
    """The fan ids of an import's earlier batches, in 16 bytes each (two 64-bit hashes).

    Keeping a million ids themselves would take ~80 MiB; their hashes in numpy
    arrays take 16 MiB. Two independent 64-bit hashes (Python's keyed SipHash of
    the id and of the id with a suffix) collide for two different ids with
    probability 2**-128, so a match is a repeat. Batches are kept as sorted runs,
    merged when one is no bigger than the next (a run is sorted about log n times).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[Any, Any]] = []  # (first hashes sorted, second hashes aligned)

    @staticmethod
    def _hashes(ids: Sequence[str]) -> tuple[Any, Any]:
        import numpy as np

        first = np.fromiter((hash(i) for i in ids), dtype=np.int64, count=len(ids))
        second = np.fromiter((hash(i + "\x00#") for i in ids), dtype=np.int64, count=len(ids))
        return first, second

    def repeated(self, ids: Sequence[str]) -> list[str]:
        """The ids (of one batch, each once) that an earlier batch had."""
        if not self._runs or not ids:
            return []
        import numpy as np

        first, second = self._hashes(ids)
        found = np.zeros(len(ids), dtype=bool)
        for run_first, run_second in self._runs:
            at = np.searchsorted(run_first, first)
            inside = at < len(run_first)
            hit = np.zeros(len(ids), dtype=bool)
            hit[inside] = run_first[at[inside]] == first[inside]
            for i in np.flatnonzero(hit):  # rare: confirm with the second hash
                j = int(at[i])
                while j < len(run_first) and run_first[j] == first[i]:
                    if run_second[j] == second[i]:
                        found[i] = True
                        break
                    j += 1
        return [ids[int(i)] for i in np.flatnonzero(found)]

    def add(self, ids: Sequence[str]) -> None:
        """Remember a batch's ids."""
        import numpy as np

        first, second = self._hashes(ids)
        order = np.argsort(first, kind="stable")
        self._runs.append((first[order], second[order]))
        while len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            (a_first, a_second), (b_first, b_second) = self._runs[-2], self._runs[-1]
            merged_first = np.concatenate([a_first, b_first])
            merged_second = np.concatenate([a_second, b_second])
            order = np.argsort(merged_first, kind="stable")
            self._runs[-2:] = [(merged_first[order], merged_second[order])]


class FanService(FanMessaging):
    """The fans of one account, as one actor (``core.for_actor(actor).fans``).

    Besides fans and their events: consent per channel and topic
    (``set_consent``, ``get_consent``, ``consent_history``), the suppression list
    (``suppress``, ``unsuppress``, ``is_suppressed``), unsubscribe tokens
    (``unsubscribe_token``) and the provider's delivery feedback
    (``record_delivery_events``).
    """

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def _account(self) -> str:
        return self._svc.account_id

    # ------------------------------------------------------------------ validation
    def clean_fields(
        self, fields: Mapping[str, Any], problems: ProblemCollector, prefix: str = ""
    ) -> dict[str, Any]:
        """Validate built-in fields and traits of a fan; return the clean ones given."""
        clean: dict[str, Any] = {}

        def at(name: str) -> str:
            return join_path(prefix, name) if prefix else name

        for key, value in fields.items():
            if key not in FAN_FIELDS and key != "addresses":
                problems.add(
                    at(key),
                    f"unknown fan field (expected one of: {', '.join(FAN_FIELDS)}, addresses)",
                    "unknown_field",
                )
                continue
            if key == "addresses":
                clean[key] = clean_addresses(
                    value, at(key), problems, self._rt.settings.messaging.channels
                )
                continue
            if value is None and key not in ("opted_out", "traits"):
                clean[key] = None
                continue
            if key == "platform":
                # a fan's platform is a value criteria compare: the registry's criteria values
                registry = self._rt.settings.platforms
                clean[key] = registry.check_criteria_value(value, at(key), problems)
            elif key == "spending_level":
                level = v_enum(value, at(key), problems, SpendingLevel)
                clean[key] = None if level is None else level.value
            elif key == "subscription_status":
                status = v_enum(value, at(key), problems, SubscriptionStatus)
                clean[key] = None if status is None else status.value
            elif key in ("engagement", "lifetime_value"):
                clean[key] = v_number(value, at(key), problems, minimum=0.0, maximum=_MAX_SCORE)
            elif key in ("subscribed_at", "last_activity_at"):
                when = v_datetime(value, at(key), problems)
                if when is not None and when > self._rt.now() + _FUTURE_SLACK:
                    problems.add(at(key), "is in the future", "out_of_range")
                clean[key] = when
            elif key == "time_zone":
                clean[key] = self._time_zone(value, at(key), problems)
            elif key == "opted_out":
                clean[key] = v_bool(value, at(key), problems)
            elif key == "traits":
                clean[key] = self._traits(value, at(key), problems)
        return clean

    @staticmethod
    def _time_zone(value: Any, path: str, problems: ProblemCollector) -> str | None:
        if not isinstance(value, str) or len(value) > 64:
            problems.add(
                path, "expected an IANA time zone name such as 'Europe/Paris'", "invalid_type"
            )
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.add(path, f"{value!r} is not a known IANA time zone", "invalid_value")
            return None
        return value

    def _traits(self, value: Any, path: str, problems: ProblemCollector) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            problems.add(path, "expected an object of trait -> value", "invalid_type")
            return None
        declared = self._rt.settings.fan_traits
        out: dict[str, Any] = {}
        for name, item in value.items():
            sub = join_path(path, str(name))
            kind = declared.get(name) if isinstance(name, str) else None
            if kind is None:
                problems.add(
                    sub, "undeclared trait (declare it in Settings.fan_traits)", "unknown_field"
                )
                continue
            out[name] = _clean_trait(item, kind, sub, problems)
        return out

    # ------------------------------------------------------------------ fans
    def _find(self, tx: Tx, fan_id: str) -> Fan | None:
        found = tx.uow.fans.find(And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1)
        return found[0] if found else None

    @audited("fan.upsert")
    def upsert_fan(self, fan_id: str, **fields: Any) -> Fan:
        """Create a fan or update the given fields of an existing one.

        Args:
            fan_id: the host's id for the person.
            **fields: platform, spending_level (none|low|medium|high|vip),
                engagement (>= 0), lifetime_value (>= 0), subscription_status
                (active|expired|cancelled|none), subscribed_at, last_activity_at,
                time_zone (IANA), opted_out, traits (declared custom traits;
                given traits are merged into the stored ones, ``None`` removes one),
                addresses (``{channel: address}`` on the messaging settings'
                channels, merged the same way).

        Raises:
            ValidationError: every bad or unknown field, with its path.
        """
        self._svc._require(Permission.FANS)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        clean = self.clean_fields(fields, problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            self._forget_sizes(tx)
            fan = self._upsert(tx, fan_id, clean)
            if fan.opted_out:
                self._on_opt_out(tx, fan)
        return fan

    def _upsert(
        self, tx: Tx, fan_id: str, clean: Mapping[str, Any], *, current: Fan | None = None
    ) -> Fan:
        """Create or update one fan (``current``: the stored fan, when the caller read it)."""
        now = self._rt.now()
        if current is None:
            current = self._find(tx, fan_id)
        if current is None:
            values = dict(clean)
            values["traits"] = {
                k: v for k, v in (values.get("traits") or {}).items() if v is not None
            }
            values["addresses"] = {
                k: v for k, v in (values.get("addresses") or {}).items() if v is not None
            }
            if values.get("opted_out") is None:
                values.pop("opted_out", None)
            fan = Fan(
                id=self._rt.ids.new_id("fan"),
                owner_id=self._account,
                fan_id=fan_id,
                created_at=now,
                updated_at=now,
                **values,
            )
            tx.uow.fans.add(fan)
            return fan
        changes = dict(clean)
        if "traits" in changes:
            merged = dict(current.traits)
            for name, value in (changes["traits"] or {}).items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            changes["traits"] = merged
        if "addresses" in changes:
            book = dict(current.addresses)
            for channel, address in (changes["addresses"] or {}).items():
                if address is None:
                    book.pop(channel, None)
                else:
                    book[channel] = address
            changes["addresses"] = book
        if changes.get("opted_out") is None:
            changes.pop("opted_out", None)
        if attrs.evolve(current, **changes) == current:
            return current  # nothing changes: no write, no new version, no audit record
        fan = attrs.evolve(current, **changes, updated_at=now, version=current.version + 1)
        tx.uow.fans.update(fan)
        return fan

    def _forget_sizes(self, tx: Tx) -> None:
        """Cached segment sizes of the account may change with any fan write."""
        account = self._account
        tx.after_commit.append(lambda: forget_segment_sizes(self._rt, account))

    def _on_opt_out(self, tx: Tx, fan: Fan) -> None:
        """An opted-out fan's pending work (automation steps...) is cancelled by the hooks."""
        for hook in self._rt.fan_opt_out_hooks:
            hook(tx, fan)

    def get_fan(self, fan_id: str) -> Fan:
        """The fan with this id.

        Raises:
            NotFoundError: the account has no such fan.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            fan = self._find(tx, fan_id)
        if fan is None:
            raise NotFoundError("fan", fan_id)
        return fan

    def list_fans(
        self,
        *,
        platform: Any = None,
        subscription_status: Any = None,
        opted_out: Any = None,
        limit: Any = None,
        offset: Any = 0,
        **unknown: Any,
    ) -> list[Fan]:
        """The account's fans in ``fan_id`` order, filtered and paginated."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        check_unknown(
            unknown, problems, ("platform", "subscription_status", "opted_out", "limit", "offset")
        )
        settings = self._rt.settings
        size = (
            settings.default_page_size
            if limit is None
            else v_int(limit, "limit", problems, minimum=1, maximum=settings.max_page_size)
        )
        start = v_int(offset, "offset", problems, minimum=0, maximum=10**9)
        conds: list[Cond] = [Eq("owner_id", self._account)]
        if platform is not None:
            value = settings.platforms.check_criteria_value(platform, "platform", problems)
            if value is not None:
                conds.append(Eq("platform", value))
        if subscription_status is not None:
            status = v_enum(
                subscription_status, "subscription_status", problems, SubscriptionStatus
            )
            if status is not None:
                conds.append(Eq("subscription_status", status.value))
        if opted_out is not None and v_bool(opted_out, "opted_out", problems) is not None:
            conds.append(Eq("opted_out", opted_out))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            return tx.uow.fans.find(
                And(*conds), order_by=[Order("fan_id")], limit=size, offset=start or 0
            )

    @audited("fan.import")
    def import_fans(self, rows: Iterable[Any], *, batch_size: int = 5000) -> ImportReport:
        """Create or update many fans at once (the store's bulk path for new fans).

        Each row is ``{"fan_id": ..., <fields as upsert_fan>}`` (camelCase keys
        such as ``fanId``, ``spendingLevel`` are accepted too). Every row is
        validated: one bad row rejects the import, with paths like
        ``rows[42].engagement``, and nothing is written.

        The rows are read once, as a stream (a generator of a million rows is
        fine): ``batch_size`` rows at a time are validated and written in the
        import's one transaction, which is rolled back if any row is bad, so
        memory does not grow with the number of fans.

        Raises:
            ValidationError: every problem of every row (up to the first 1,000).
            ConflictError: the same fan twice in the import.
        """
        self._svc._require(Permission.FANS)
        from campaign_core._naming import camel

        aliases = {camel(f): f for f in (*FAN_FIELDS, "fan_id", "addresses")}
        problems = ProblemCollector()
        size = v_int(batch_size, "batch_size", problems, minimum=1, maximum=100_000)
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
            problems.add("rows", "expected a list (or iterable) of objects", "invalid_type")
        problems.raise_if_any()
        assert size is not None
        counts = [0, 0]  # created, updated
        count = 0
        with self._rt.transaction() as tx:
            self._forget_sizes(tx)
            seen = _SeenIds()  # the fan ids of the earlier batches (as hashes)
            batch: dict[str, tuple[int, dict[str, Any]]] = {}  # fan id -> (row, clean fields)
            for index, row in enumerate(rows):
                count += 1
                path = join_path("rows", index)
                if not isinstance(row, Mapping):
                    problems.add(path, "expected an object", "invalid_type")
                    continue
                fields: dict[str, Any] = {aliases.get(str(k), str(k)): v for k, v in row.items()}
                fan_id = fields.pop("fan_id", MISSING)
                if fan_id is MISSING:
                    problems.add(join_path(path, "fan_id"), "is required", "required")
                    continue
                if v_id(fan_id, join_path(path, "fan_id"), problems) is None:
                    continue
                clean = self.clean_fields(fields, problems, prefix=path)
                if fan_id in batch:
                    _twice(problems, index, fan_id)
                batch[fan_id] = (index, clean)
                if len(problems.problems) > 1000:
                    break
                if len(batch) >= size:
                    self._import_batch(tx, batch, seen, problems, counts)
                    batch = {}
            self._import_batch(tx, batch, seen, problems, counts)
            problems.raise_if_any()  # inside the transaction: nothing is kept
        return ImportReport(created=counts[0], updated=counts[1], total=count)

    def _import_batch(
        self,
        tx: Tx,
        batch: Mapping[str, tuple[int, Mapping[str, Any]]],
        seen: _SeenIds,
        problems: ProblemCollector,
        counts: list[int],
    ) -> None:
        """Check one batch against the earlier ones, then write it (nothing once a row was bad)."""
        if not batch:
            return
        ids = list(batch)
        for fan_id in seen.repeated(ids):
            _twice(problems, batch[fan_id][0], fan_id)
        seen.add(ids)
        if problems.problems:
            return  # the import fails: writing more would only be rolled back
        existing = {
            f.fan_id: f
            for f in tx.uow.fans.find(And(Eq("owner_id", self._account), In("fan_id", ids)))
        }
        now = self._rt.now()
        new = []
        for fan_id in ids:
            current = existing.get(fan_id)
            clean = batch[fan_id][1]
            if current is not None:
                self._upsert(tx, fan_id, clean, current=current)
                counts[1] += 1
                continue
            values = dict(clean)
            values["traits"] = {
                k: v for k, v in (values.get("traits") or {}).items() if v is not None
            }
            values["addresses"] = {
                k: v for k, v in (values.get("addresses") or {}).items() if v is not None
            }
            if values.get("opted_out") is None:
                values.pop("opted_out", None)
            new.append(
                Fan(
                    id=self._rt.ids.new_id("fan"),
                    owner_id=self._account,
                    fan_id=fan_id,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
        tx.uow.fans.add_many(new)
        counts[0] += len(new)

    # ------------------------------------------------------------------ privacy
    def export_fan(self, fan_id: str) -> dict[str, Any]:
        """Everything held about a fan in this account, as JSON (GDPR access request).

        Covers the fan record with its traits, their events, segment
        memberships, conversions, and whatever the engine's other parts hold
        (automation runs and executions) through the export hooks.

        A fan known only from tracking (tracked without a fan record) is
        exported too, with ``"fan": null``.

        Raises:
            NotFoundError: the account has no such fan and no row mentions them.
        """
        self._svc._require(Permission.PRIVACY)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        from campaign_core.serialization import format_datetime, to_json

        with self._rt.transaction() as tx:
            record = self._find(tx, fan_id)
            fan = record or self._ghost(fan_id)
            events = list(
                tx.uow.fan_events.iter_all(And(Eq("owner_id", self._account), Eq("fan_id", fan_id)))
            )
            segments = {s.id: s for s in tx.uow.segments.find(Eq("user_id", self._account))}
            memberships = [
                m
                for m in tx.uow.segment_members.find(Eq("fan_id", fan_id))
                if m.segment_id in segments
            ]
            campaigns = {c.id for c in tx.uow.campaigns.find(Eq("user_id", self._account))}
            conversions = [
                c
                for c in tx.uow.campaign_conversions.find(Eq("fan_id", fan_id))
                if c.campaign_id in campaigns
            ]
            export: dict[str, Any] = {
                "exportedAt": format_datetime(self._rt.now()),
                "accountId": self._account,
                "fan": None if record is None else to_json(record),
                "events": to_json(events),
                "segments": [
                    {
                        "segmentId": m.segment_id,
                        "name": segments[m.segment_id].name,
                        "addedAt": format_datetime(m.added_at),
                        "source": m.source.value,
                    }
                    for m in memberships
                ],
                "conversions": to_json(conversions),
            }
            for section in self._rt.fan_export_hooks:
                export.update(section(tx, fan))
            if record is None and not any(
                value for key, value in export.items() if key not in ("exportedAt", "accountId")
            ):
                raise NotFoundError("fan", fan_id)
        return export

    def _ghost(self, fan_id: str) -> Fan:
        """A stand-in for a fan known only from other rows (tracking, conversions...).

        Tracking takes any fan id without a fan record; a privacy request for such a
        fan still has to find and erase what those rows hold.
        """
        now = self._rt.now()
        return Fan(id="", owner_id=self._account, fan_id=fan_id, created_at=now, updated_at=now)

    @audited("fan.erase")
    def erase_fan(self, fan_id: str) -> dict[str, int]:
        """Erase a fan from this account (GDPR erasure), keeping aggregates correct.

        The fan record, their events and segment memberships are deleted;
        their conversions are kept for campaign totals but their ``userId`` is
        replaced by an irreversible random token; pending automation work is
        cancelled and run history anonymized through the erase hooks. Segment
        member counts are adjusted.

        A fan known only from tracking (tracked without a fan record) is erased
        from those rows too (``fans`` is then 0 in the counts).

        Returns:
            How many rows of each kind were deleted or anonymized.

        Raises:
            NotFoundError: the account has no such fan and no row mentions them.
        """
        self._svc._require(Permission.PRIVACY)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        import secrets

        token = f"erased-{secrets.token_hex(12)}"
        counts: dict[str, int] = {}
        with self._rt.transaction() as tx:
            record = self._find(tx, fan_id)
            fan = record or self._ghost(fan_id)
            self._forget_sizes(tx)
            for stop in self._rt.fan_opt_out_hooks:
                stop(tx, fan)
            counts["events"] = tx.uow.fan_events.delete_where(
                And(Eq("owner_id", self._account), Eq("fan_id", fan_id))
            )
            own_segments = [s.id for s in tx.uow.segments.find(Eq("user_id", self._account))]
            members = tx.uow.segment_members.find(
                And(Eq("fan_id", fan_id), In("segment_id", own_segments))
            )
            for member in members:
                tx.uow.segment_members.delete(member.id)
                tx.uow.segments.increment(member.segment_id, {"member_count": -1})
            counts["segment_memberships"] = len(members)
            own_campaigns = [c.id for c in tx.uow.campaigns.find(Eq("user_id", self._account))]
            conversions = tx.uow.campaign_conversions.find(
                And(Eq("fan_id", fan_id), In("campaign_id", own_campaigns))
            )
            for conversion in conversions:
                tx.uow.campaign_conversions.update(attrs.evolve(conversion, fan_id=token))
            counts["conversions_anonymized"] = len(conversions)
            for erase in self._rt.fan_erase_hooks:
                counts.update(erase(tx, fan, token))
            if record is not None:
                tx.uow.fans.delete(record.id)
            counts["fans"] = 0 if record is None else 1
            if not any(counts.values()):  # no record and no row mentions them: rolls back
                raise NotFoundError("fan", fan_id)
            # the audit trail refers to the fan by pseudonym only; erasure removes even that link
            pseudonym = pseudonymize(
                f"{fan.owner_id}:{fan.fan_id}", self._rt.settings.pseudonym_key
            )
            counts["audit_records"] = tx.uow.audit_records.delete_where(
                And(
                    Eq("account_id", self._account),
                    In("entity", ["fan", "fan_consent"]),
                    Eq("entity_id", pseudonym),
                )
            )
            # that an erasure happened stays on record, linked to nobody
            actor = self._svc.actor
            tx.uow.audit_records.add(
                AuditRecord(
                    id=self._rt.ids.new_id("audit"),
                    account_id=self._account,
                    actor_id=actor.user_id,
                    actor_role=actor.role.value,
                    action="fan.erase",
                    entity="fan",
                    entity_id="erased",
                    after={"erased": dict(counts)},
                    at=self._rt.now(),
                )
            )
        return counts

    # ------------------------------------------------------------------ events
    @audited("fan.record_event")
    def record_event(
        self,
        fan_id: str,
        name: Any,
        *,
        properties: Any = None,
        value: Any = None,
        occurred_at: Any = None,
    ) -> FanEvent:
        """Record something a fan did (``fan.subscribed``, ``purchase``, ``message.opened``...).

        The fan is created if the account has not seen them yet; their
        ``last_activity_at`` moves to the event's time if later. Event triggers
        of active automations fire from here.

        Args:
            fan_id: the fan.
            name: letters, digits and ``_ . : -`` (at most 100).
            properties: a JSON object.
            value: an optional finite number (a purchase amount...).
            occurred_at: when (aware; default now; at most a day ahead).

        Raises:
            ValidationError: every bad argument, with its name as path.
        """
        self._svc._require(Permission.FANS)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        if not isinstance(name, str) or not _EVENT_NAME.match(name):
            problems.add(
                "name", "event names are letters, digits and '_ . : -' (1-100)", "invalid_value"
            )
        props = (
            {}
            if properties is None
            else v_json_object(properties, "properties", problems, max_bytes=16_000)
        )
        amount = (
            None
            if value is None
            else v_number(value, "value", problems, minimum=-1e12, maximum=1e12)
        )
        now = self._rt.now()
        when = now if occurred_at is None else v_datetime(occurred_at, "occurred_at", problems)
        if when is not None and when > now + _FUTURE_SLACK:
            problems.add("occurred_at", "is more than a day in the future", "out_of_range")
        problems.raise_if_any()
        assert when is not None and props is not None
        with self._rt.transaction() as tx:
            self._forget_sizes(tx)
            fan = self._find(tx, fan_id) or self._upsert(tx, fan_id, {})
            event = self._add_event(tx, fan, name, props, when, amount)
        return event

    def _add_event(
        self,
        tx: Tx,
        fan: Fan,
        name: str,
        props: dict[str, Any],
        when: datetime,
        amount: float | None = None,
    ) -> FanEvent:
        """Store a checked event of ``fan``, move their last activity, fire the event hooks."""
        event = FanEvent(
            id=self._rt.ids.new_id("event"),
            owner_id=self._account,
            fan_id=fan.fan_id,
            name=name,
            occurred_at=when,
            properties=props,
            value=amount,
            created_at=self._rt.now(),
        )
        tx.uow.fan_events.add(event)
        if fan.last_activity_at is None or when > fan.last_activity_at:
            self._upsert(tx, fan.fan_id, {"last_activity_at": when}, current=fan)
        for hook in self._rt.fan_event_hooks:
            hook(tx, event)
        return event

    def list_events(
        self,
        fan_id: str,
        *,
        name: Any = None,
        since: Any = None,
        until: Any = None,
        limit: Any = 100,
    ) -> list[FanEvent]:
        """A fan's events, newest first."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        size = v_int(limit, "limit", problems, minimum=1, maximum=10_000)
        conds: list[Cond] = [Eq("owner_id", self._account), Eq("fan_id", fan_id)]
        if name is not None:
            if not isinstance(name, str):
                problems.add("name", "expected a string", "invalid_type")
            else:
                conds.append(Eq("name", name))
        for value, path, op in ((since, "since", Gte), (until, "until", Lt)):
            if value is not None:
                when = v_datetime(value, path, problems)
                if when is not None:
                    conds.append(op("occurred_at", when))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            return tx.uow.fan_events.find(
                And(*conds), order_by=[Order("occurred_at", True), Order("id", True)], limit=size
            )
