"""SQL store for campaign-core on SQLAlchemy 2.x: SQLite (embedded default), PostgreSQL, MariaDB.

Install with ``pip install 'campaign-core[sqlalchemy]'`` (plus ``[postgres]`` or
``[mysql]`` for the server drivers)::

    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore("sqlite:///campaign-core.sqlite3")
    store.upgrade()

``upgrade()`` applies the Alembic migrations shipped in
:mod:`campaign_core_sqlalchemy.migrations` (own version table
``campaign_core_alembic_version``). On PostgreSQL the seed's tables are
Prisma-compatible; see docs/howto/postgres-and-prisma.md and
docs/howto/alembic-migrations.md.
"""

try:
    import sqlalchemy as _sqlalchemy  # noqa: F401
except ImportError as _error:  # pragma: no cover - exercised by the purity check
    from campaign_core.errors import MissingDependencyError

    raise MissingDependencyError("sqlalchemy", "sqlalchemy") from _error

from campaign_core_sqlalchemy._prisma import prisma_schema
from campaign_core_sqlalchemy._schema import TABLES, metadata
from campaign_core_sqlalchemy._store import (
    SqlAlchemyRepository,
    SqlAlchemyStore,
    SqlAlchemyUnitOfWork,
)

__all__ = [
    "TABLES",
    "SqlAlchemyRepository",
    "SqlAlchemyStore",
    "SqlAlchemyUnitOfWork",
    "metadata",
    "prisma_schema",
]
