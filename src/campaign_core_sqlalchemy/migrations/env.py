"""Alembic environment for campaign-core's own migrations.

Used by the Alembic command functions (``alembic.command.revision``,
``upgrade --sql``...) through :func:`campaign_core_sqlalchemy.migrations.alembic_config`;
``SqlAlchemyStore.upgrade()`` runs the same options without this file. The
connection comes from ``config.attributes["connection"]``; without one, a URL
from the ``sqlalchemy.url`` option (offline mode renders SQL for it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from campaign_core_sqlalchemy.migrations import context_options

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **context_options()
    )
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    context.configure(connection=connection, **context_options())
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = sa.create_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, **context_options())
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
