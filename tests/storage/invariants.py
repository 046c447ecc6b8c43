"""A database without the invariants the migrations add (rows written before them)."""

from __future__ import annotations

from campaign_core_sqlalchemy import SqlAlchemyStore


def without_invariants(store: SqlAlchemyStore) -> None:
    """Migrate ``store`` fully."""
    store.upgrade()
