"""Retention: tick() deletes expired audit and delivery records in bounded batches, and each
guard keeps what is still needed (FakeClock, no sleeping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Settings, ValidationError
from campaign_core.delivery import MessagingSettings
from campaign_core.models import AuditRecord, Broadcast, Delivery
from campaign_core.ports import Store
from campaign_core.settings import RetentionSettings

DAY = "1 day"


def _core(store: Store, factory: Callable[..., CampaignCore], **retention: Any) -> CampaignCore:
    messaging = retention.pop("messaging", None)
    settings = Settings(
        retention=RetentionSettings(**retention),
        **({"messaging": messaging} if messaging is not None else {}),
    )
    return factory(store, settings=settings)


def _audit(core: CampaignCore, n: int, at: datetime, prefix: str = "a") -> None:
    with core.store.unit_of_work() as uow:
        uow.audit_records.add_many(
            [
                AuditRecord(
                    id=f"{prefix}{i:04d}",
                    account_id="owner-1",
                    actor_id="owner-1",
                    actor_role="owner",
                    action="campaign.update",
                    entity="campaign",
                    entity_id="c1",
                    at=at,
                )
                for i in range(n)
            ]
        )
        uow.commit()


def _broadcast(core: CampaignCore, campaign_id: str, status: str, at: datetime) -> None:
    with core.store.unit_of_work() as uow:
        uow.broadcasts.add(
            Broadcast(
                id=f"b-{campaign_id}",
                campaign_id=campaign_id,
                owner_id="owner-1",
                status=status,
                created_at=at,
                updated_at=at,
            )
        )
        uow.commit()


def _deliveries(core: CampaignCore, campaign_id: str, statuses: list[str], at: datetime) -> None:
    with core.store.unit_of_work() as uow:
        uow.deliveries.add_many(
            [
                Delivery(
                    id=f"d-{campaign_id}-{i}",
                    campaign_id=campaign_id,
                    owner_id="owner-1",
                    fan_id=f"fan-{i}",
                    channel="email",
                    status=status,
                    idempotency_key=f"{campaign_id}:fan-{i}:email",
                    sent_at=at if status == "sent" else None,
                    created_at=at,
                    updated_at=at,
                )
                for i, status in enumerate(statuses)
            ]
        )
        uow.commit()


def _count(core: CampaignCore, repo: str) -> int:
    with core.store.unit_of_work() as uow:
        return int(uow.repository(repo).count())


def test_nothing_is_purged_by_default(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    core = _core(any_store, core_factory)
    _audit(core, 3, clock.now())
    clock.advance("3650 days")
    report = core.tick()
    assert (report.audit_records_purged, _count(core, "audit_records")) == (0, 3)


def test_audit_records_older_than_the_age_go_in_bounded_batches(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """Only records older than N days; at most batch_size per tick, oldest first."""
    core = _core(any_store, core_factory, audit_records_days=30, batch_size=2)
    _audit(core, 5, clock.now(), "old")
    clock.advance("20 days")
    _audit(core, 2, clock.now(), "new")
    clock.advance("11 days")  # old: 31 days, new: 11 days
    assert core.tick().audit_records_purged == 2
    assert core.tick().audit_records_purged == 2
    assert core.tick().audit_records_purged == 1
    assert core.tick().audit_records_purged == 0
    with core.store.unit_of_work() as uow:
        assert sorted(r.id for r in uow.audit_records.find(None)) == ["new0000", "new0001"]


def test_a_record_exactly_at_the_age_stays(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    core = _core(any_store, core_factory, audit_records_days=30)
    _audit(core, 1, clock.now())
    clock.advance("30 days")
    assert core.tick().audit_records_purged == 0
    clock.advance("1 second")
    assert core.tick().audit_records_purged == 1


def test_deliveries_only_final_rows_of_finished_broadcasts(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """Queued rows, and every row of a broadcast still running, stay (they stop double sends)."""
    core = _core(any_store, core_factory, deliveries_days=7)
    start = clock.now()
    _broadcast(core, "done", "done", start)
    _deliveries(core, "done", ["sent", "failed", "suppressed", "queued"], start)
    _broadcast(core, "running", "delivering", start)
    _deliveries(core, "running", ["sent", "sent"], start)
    clock.advance("8 days")
    assert core.tick().deliveries_purged == 3
    with core.store.unit_of_work() as uow:
        left = sorted((d.campaign_id, d.status.value) for d in uow.deliveries.find(None))
    assert left == [("done", "queued"), ("running", "sent"), ("running", "sent")]


def test_deliveries_younger_than_the_age_stay(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    core = _core(any_store, core_factory, deliveries_days=7)
    _broadcast(core, "done", "done", clock.now())
    _deliveries(core, "done", ["sent"], clock.now())
    clock.advance("6 days")
    assert core.tick().deliveries_purged == 0
    clock.advance("2 days")
    assert core.tick().deliveries_purged == 1


def test_deliveries_inside_a_frequency_cap_period_stay(
    any_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """A 30-day cap counts sends of the last 30 days: a 7-day retention waits for it."""
    core = _core(
        any_store,
        core_factory,
        deliveries_days=7,
        messaging=MessagingSettings(frequency_caps=[{"max": 3, "per": "30 days"}]),
    )
    _broadcast(core, "done", "done", clock.now())
    _deliveries(core, "done", ["sent"], clock.now())
    clock.advance("8 days")
    assert core.tick().deliveries_purged == 0
    clock.advance("23 days")  # 31 days: inside the window plus its one-day margin
    assert core.tick().deliveries_purged == 0
    clock.advance("1 second")
    assert core.tick().deliveries_purged == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audit_records_days", 0),
        ("audit_records_days", -1),
        ("audit_records_days", 1.5),
        ("audit_records_days", True),
        ("deliveries_days", 36_501),
        ("batch_size", 0),
        ("batch_size", 10_001),
    ],
)
def test_retention_settings_are_checked(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        RetentionSettings(**{field: value})
    assert [p.path for p in info.value.problems] == [f"settings.retention.{field}"]


def test_settings_take_only_a_retention_settings() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(retention={"audit_records_days": 3})  # type: ignore[arg-type]
    assert [p.path for p in info.value.problems] == ["settings.retention"]
