"""A database without the invariants the migrations add (rows written before them)."""

from __future__ import annotations

from campaign_core_sqlalchemy import SqlAlchemyStore, migrations
from campaign_core_sqlalchemy.migrations.versions import cc0011_database_invariants

BEFORE_INVARIANTS = cc0011_database_invariants.down_revision


def without_invariants(store: SqlAlchemyStore) -> None:
    """Migrate ``store`` up to the revision before the CHECK constraints and version triggers."""
    with store.engine.connect() as conn:
        migrations.upgrade(conn, BEFORE_INVARIANTS)
        conn.commit()
