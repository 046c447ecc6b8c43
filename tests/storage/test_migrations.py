"""Shipped migrations: no drift on any database, safe to run often and at once, usable from a host's Alembic."""

from __future__ import annotations

import contextlib
import io
import textwrap
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from campaign_core_sqlalchemy import SqlAlchemyStore, metadata, migrations
from campaign_core_sqlalchemy.migrations.__main__ import main as migrations_main
from tests.conftest import backend_params, fresh_database_url
from tests.storage.test_prisma_compat import PRISMA_PG_TYPES, SEED

SQL_BACKENDS = ["sqlite", "postgres", "mariadb"]


def _fresh_url(backend: str, label: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (label + '.sqlite3')}"
    return fresh_database_url(backend, label)


def _tables(store: SqlAlchemyStore) -> set[str]:
    """The tables, without PostgreSQL's partitions of tracking_events (parts of one table)."""
    names = set(sa.inspect(store.engine).get_table_names())
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            parts = conn.execute(sa.text("SELECT relname FROM pg_class WHERE relispartition"))
            names -= {str(r[0]) for r in parts}
    return names


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_migrations_produce_exactly_the_declared_tables(backend: str, tmp_path: Path) -> None:
    """On an empty database, upgrade() yields the declared metadata: no drift in tables, columns, types, defaults, indexes."""
    store = SqlAlchemyStore(_fresh_url(backend, "drift", tmp_path))
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            assert migrations.drift(conn) == []
            assert migrations.current(conn) == migrations.heads()
        assert _tables(store) == set(metadata.tables) | {migrations.VERSION_TABLE}
    finally:
        store.close()


def test_upgrade_is_idempotent_and_downgrade_reverts(tmp_path: Path) -> None:
    """A second upgrade changes nothing; downgrading to base drops every table of ours."""
    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.upgrade()
    store.upgrade()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")).all()
        assert [r[0] for r in rows] == list(migrations.heads())
        migrations.downgrade(conn, "base")
        conn.commit()
    assert _tables(store) == {migrations.VERSION_TABLE}
    store.upgrade()
    assert _tables(store) >= set(metadata.tables)
    store.close()


def test_create_true_and_create_tables_run_the_migrations() -> None:
    """create=True (tests, demos) goes through the same migrations as upgrade()."""
    store = SqlAlchemyStore("sqlite://", create=True)
    with store.engine.connect() as conn:
        assert migrations.current(conn) == migrations.heads()
    store.create_tables()
    store.close()


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_concurrent_upgrades_migrate_once(backend: str, tmp_path: Path) -> None:
    """Four workers starting at once on an empty database all succeed and the schema is created once."""
    url = _fresh_url(backend, "race", tmp_path)
    stores = [SqlAlchemyStore(url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(store: SqlAlchemyStore) -> None:
        barrier.wait()
        try:
            store.upgrade()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0].engine.connect() as conn:
        assert migrations.drift(conn) == []
        versions = conn.execute(
            sa.text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")
        ).all()
    assert [v[0] for v in versions] == list(migrations.heads())
    for store in stores:
        store.close()


def _prisma_ddl() -> list[str]:
    """The seed tables as `prisma migrate` creates them on PostgreSQL (one relation as a foreign key)."""
    type_names = {
        "String": "TEXT",
        "Int": "INTEGER",
        "Float": "DOUBLE PRECISION",
        "Boolean": "BOOLEAN",
        "DateTime": "TIMESTAMP(3)",
        "Json": "JSONB",
        "String[]": "TEXT[]",
        "Json[]": "JSONB[]",
    }
    assert set(type_names) == set(PRISMA_PG_TYPES)
    statements = []
    for table in SEED:
        lines = []
        for c in table.columns:
            line = f'"{c.name}" {type_names[c.prisma_type]}'
            if not c.nullable:
                line += " NOT NULL"
            if c.default is not None:
                line += f" DEFAULT {c.default}"
            lines.append(line)
        lines.append(f'CONSTRAINT "{table.table}_pkey" PRIMARY KEY ("id")')
        statements.append(f'CREATE TABLE "{table.table}" ({", ".join(lines)})')
        for index in table.indexes[1:]:
            unique = "UNIQUE " if index.unique else ""
            cols = ", ".join(f'"{c}"' for c in index.columns)
            statements.append(f'CREATE {unique}INDEX "{index.name}" ON "{table.table}"({cols})')
    statements.append(
        'ALTER TABLE "segment_members" ADD CONSTRAINT "segment_members_segmentId_fkey"'
        ' FOREIGN KEY ("segmentId") REFERENCES "segments"("id") ON DELETE RESTRICT ON UPDATE CASCADE'
    )
    return statements


@pytest.mark.postgres
def test_seed_tables_created_by_prisma_first_are_adopted(tmp_path: Path) -> None:
    """On a database where Prisma created the seed tables, upgrade() adds only our columns, indexes and tables."""
    store = SqlAlchemyStore(fresh_database_url("postgres", "prisma_first"))
    try:
        with store.engine.begin() as conn:
            for statement in _prisma_ddl():
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(
                'INSERT INTO segments (id, "userId", name, type, criteria, "updatedAt")'
                " VALUES ('s1', 'u1', 'VIPs', 'static', '{}', now())"
            )
        store.upgrade()
        with store.engine.connect() as conn:
            # the only difference left is Prisma's foreign key, which we do not declare
            assert [d[0] for d in migrations.drift(conn)] == ["remove_fk"]
        with store.unit_of_work() as uow:
            segment = uow.segments.get("s1")
            assert segment is not None
            assert segment.version == 1  # our column, added with its default
    finally:
        store.close()


def _host_project(root: Path, env_body: str) -> Path:
    """A host application's own Alembic setup: one table of its own, in its own revision."""
    (root / "host_migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text(
        textwrap.dedent(
            f"""
            [alembic]
            script_location = %(here)s/host_migrations
            version_locations = %(here)s/host_migrations/versions {migrations.VERSIONS_LOCATION}
            path_separator = space
            sqlalchemy.url = sqlite:///%(here)s/app.sqlite3
            """
        )
    )
    (root / "host_migrations" / "script.py.mako").write_text(
        (migrations.MIGRATIONS_DIR / "script.py.mako").read_text()
    )
    (root / "host_migrations" / "env.py").write_text(textwrap.dedent(env_body))
    (root / "host_migrations" / "versions" / "h0001_things.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "h0001"
            down_revision = None
            branch_labels = ("host",)
            depends_on = None

            def upgrade():
                op.create_table("host_things", sa.Column("id", sa.Integer, primary_key=True))

            def downgrade():
                op.drop_table("host_things")
            """
        )
    )
    return root / "alembic.ini"


HOST_ENV_WITH_OUR_VERSIONS = """
    import sqlalchemy as sa
    from alembic import context

    from campaign_core_sqlalchemy.migrations import include_name

    host_metadata = sa.MetaData()
    sa.Table("host_things", host_metadata, sa.Column("id", sa.Integer, primary_key=True))

    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=host_metadata,
            include_name=include_name,  # leave campaign-core's tables alone
        )
        with context.begin_transaction():
            context.run_migrations()
"""

HOST_ENV_CALLING_OUR_UPGRADE = """
    import sqlalchemy as sa
    from alembic import context

    from campaign_core_sqlalchemy import migrations

    host_metadata = sa.MetaData()
    sa.Table("host_things", host_metadata, sa.Column("id", sa.Integer, primary_key=True))

    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        migrations.upgrade(connection)  # our tables, our version table
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=host_metadata,
            include_name=migrations.include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
"""


def test_host_alembic_runs_our_revisions_from_version_locations(tmp_path: Path) -> None:
    """A host adding our versions to version_locations gets both branches from `upgrade heads`, and its autogenerate leaves our tables alone."""
    from alembic import command
    from alembic.config import Config

    ini = _host_project(tmp_path, HOST_ENV_WITH_OUR_VERSIONS)
    config = Config(str(ini))
    command.upgrade(config, "heads")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        heads = {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    assert tables >= set(metadata.tables) | {"host_things"}
    assert heads == {"h0001", *migrations.heads()}
    script = command.revision(
        config, message="nothing new", autogenerate=True, rev_id="h0002", head="host@head"
    )
    assert script is not None
    assert not isinstance(script, list)
    assert Path(script.path).parent == tmp_path / "host_migrations" / "versions"
    text = Path(script.path).read_text()
    assert "drop_table" not in text
    assert "create_table" not in text
    engine.dispose()


def test_host_env_calling_our_upgrade_keeps_separate_version_tables(tmp_path: Path) -> None:
    """A host env.py that calls migrations.upgrade() first keeps our revision in our own version table."""
    from alembic import command
    from alembic.config import Config

    ini = _host_project(tmp_path, HOST_ENV_CALLING_OUR_UPGRADE)
    config = Config(str(ini))
    config.set_main_option("version_locations", str(tmp_path / "host_migrations" / "versions"))
    command.upgrade(config, "heads")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn:
        host = {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
        assert host == {"h0001"}
        assert migrations.current(conn) == migrations.heads()
    engine.dispose()


def test_include_name_hides_only_our_tables() -> None:
    """include_name() says no to our tables and our version table, yes to everything else."""
    assert not migrations.include_name("campaigns", "table", {})
    assert not migrations.include_name(migrations.VERSION_TABLE, "table", {})
    assert migrations.include_name("users", "table", {})
    assert migrations.include_name("campaigns", "column", {"table_name": "campaigns"})


def test_offline_sql_shows_prisma_types_for_postgresql() -> None:
    """`python -m campaign_core_sqlalchemy.migrations sql postgresql` prints the DDL with Prisma's types."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert migrations_main(["sql", "postgresql"]) == 0
    ddl = out.getvalue()
    assert "CREATE TABLE campaigns" in ddl
    assert '"scheduledFor" TIMESTAMP(3) WITHOUT TIME ZONE' in ddl
    assert "platforms TEXT[]" in ddl
    assert "conditions JSONB[]" in ddl
    assert f"CREATE TABLE {migrations.VERSION_TABLE}" in ddl


def test_cli_check_and_heads() -> None:
    """The contributors' `check` command finds no drift; `heads` prints the head revision."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert migrations_main(["check"]) == 0
        assert migrations_main(["heads"]) == 0
    assert "no drift" in out.getvalue()
    assert migrations.heads()[0] in out.getvalue()


def test_a_new_sqlite_file_busy_elsewhere_still_gets_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching to WAL fails at once ("database is locked", no busy wait) while another
    connection writes: the store waits and looks again instead of failing its first connect."""
    import sqlite3
    import time

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other VALUES (1)")
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the other writer finishes while we wait
        if not waits:
            holder.execute("COMMIT")
        waits.append(seconds)

    monkeypatch.setattr(time, "sleep", wait)
    store = SqlAlchemyStore(f"sqlite:///{path}", busy_timeout=5)
    store.upgrade()
    assert waits  # it did have to wait
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
    holder.close()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["upgrade", "not a url"], 2, "is not a database URL"),
        (["current", "nosuchdb://host/db"], 2, "unknown database backend"),
        (["current", "mysql+mysqldb://root@127.0.0.1/db"], 3, "driver 'MySQLdb'"),
        (
            ["upgrade", "postgresql+psycopg://u:s3cret@127.0.0.1:1/db?connect_timeout=2"],
            4,
            "cannot reach the database",
        ),
    ],
    ids=["garbage", "unknown-backend", "missing-driver", "unreachable"],
)
def test_cli_errors_are_one_line_without_traceback_or_password(
    argv: list[str], code: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The migration command reports a bad URL or server in one line, with an exit code."""
    assert migrations_main(argv) == code
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err
    assert "s3cret" not in err
    assert err.count("\n") == 1


def test_migrations_form_one_line() -> None:
    """One head, and each file's number is its revision, following the number before it."""
    versions = Path(migrations.__file__).parent / "versions"
    numbered = sorted(p for p in versions.glob("cc[0-9][0-9][0-9][0-9]_*.py"))
    assert migrations.heads() == (numbered[-1].name[:6],)
    previous = None
    for path in numbered:
        text = path.read_text()
        assert f'revision = "{path.name[:6]}"' in text, path.name
        assert f"down_revision = {previous!r}".replace("'", '"') in text, path.name
        previous = path.name[:6]
