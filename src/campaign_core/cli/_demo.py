"""``campaign-core demo``: the seed's end-to-end flows on a fresh embedded database.

The demo is a list of flows (:data:`FLOWS`). Each flow is a function
``flow_N_<name>(ctx: DemoContext) -> dict`` (they live in ``_demo_flows``)
that drives the library through its public API, moving a :class:`~campaign_core.FakeClock` forward and calling
``core.tick()`` as a worker would, and returns a JSON-safe summary dict. The
optional ``"steps"`` key of that dict is a list of one-line strings, the
flow's narrative, printed by the command; every key goes to the JSON report.

A flow that needs a service this version does not have calls
:meth:`DemoContext.require`, which raises :class:`FlowUnavailable`: the demo
says "not available yet" for it rather than faking anything. Every
flow now has its service.

The demo only runs on SQLite, and always from a fresh file: it deletes the
file first, but only a file it created itself (it marks its databases with a
``campaign_core_demo`` table), so pointing it at a real database by mistake
is refused rather than destructive.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from campaign_core._version import __version__
from campaign_core.cli._demo_flows import (
    flow_1_campaign,
    flow_2_ab_test,
    flow_3_automation,
    flow_4_segment,
)
from campaign_core.cli._exit import FeatureNotAvailableError
from campaign_core.cli._store import (
    DEFAULT_DEMO_URL,
    DEFAULT_JSON_REPORT,
    DEFAULT_PDF_REPORT,
    describe_url,
)
from campaign_core.clock import FakeClock
from campaign_core.errors import CampaignCoreError, ValidationError
from campaign_core.serialization import format_datetime, to_json

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core._core import CampaignCore, Workspace
    from campaign_core.alerts import RecordingAlerter
    from campaign_core.publishing import ScriptedPublisher

__all__ = [
    "DEFAULT_DEMO_URL",
    "DEMO_OWNER",
    "DEMO_START",
    "FLOWS",
    "REPORT_SERVICE",
    "DemoContext",
    "DemoFlow",
    "FlowOutcome",
    "FlowUnavailable",
    "build_context",
    "demo_summary",
    "flow_1_campaign",
    "flow_2_ab_test",
    "flow_3_automation",
    "flow_4_segment",
    "has_service",
    "mark_database",
    "prepare_database",
    "report_format",
    "run_flows",
    "write_report",
]

DEMO_OWNER: Final = "demo-creator"
DEMO_START: Final = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: The workspace service whose presence turns the report into a PDF.
REPORT_SERVICE: Final = "analytics.generate_report"
_MARKER_TABLE: Final = "campaign_core_demo"
_SQLITE_SIDE_FILES: Final = ("-wal", "-shm", "-journal")

FlowStatus = Literal["ok", "not_available", "failed"]


class FlowUnavailable(Exception):
    """A demo flow cannot run in this version (raised by :meth:`DemoContext.require`).

    Attributes:
        missing: the workspace attributes that are absent, e.g.
            ``("campaigns.create_ab_test",)``; empty when the services exist
            but the flow itself is not written yet.
    """

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.missing = tuple(missing)


def has_service(ws: Workspace, path: str) -> bool:
    """Whether ``ws`` has the dotted attribute ``path`` (``"analytics.generate_report"``)."""
    target: object = ws
    for part in path.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


@attrs.define
class DemoContext:
    """What a flow works with.

    Attributes:
        core: the core, over the demo's SQLite store.
        clock: the fake clock the core reads; flows move it.
        ws: the workspace of the demo's creator account (:data:`DEMO_OWNER`).
        publisher: the scripted platform publisher (TikTok rate-limits the
            first post, to show durable retries).
        alerter: the alerter, which keeps the alerts sent to the owner.
        database_url: the database the demo runs on.
        report_campaign_id: the campaign the PDF report covers; the flow that
            tracks a campaign sets it.
        on_step: called with each step's text (the command shows progress).
    """

    core: CampaignCore
    clock: FakeClock
    ws: Workspace
    publisher: ScriptedPublisher
    alerter: RecordingAlerter
    database_url: str
    report_campaign_id: str | None = None
    on_step: Callable[[str], None] | None = None

    def require(self, *paths: str) -> None:
        """Raise :class:`FlowUnavailable` unless the workspace has every service in ``paths``.

        Args:
            paths: dotted workspace attributes, such as ``"campaigns.create_ab_test"``.

        Raises:
            FlowUnavailable: naming the missing ones.
        """
        missing = [path for path in paths if not has_service(self.ws, path)]
        if missing:
            raise FlowUnavailable(
                "needs " + ", ".join(f"ws.{path}" for path in missing), missing=missing
            )

    def step(self, text: str) -> str:
        """Report progress; returns ``text`` so a flow can also keep it as a narrative line."""
        if self.on_step is not None:
            self.on_step(text)
        return text

    def tick(self) -> dict[str, Any]:
        """Run the engine once, as a worker would, and return its report as JSON."""
        report: dict[str, Any] = to_json(self.core.tick())
        return report


@attrs.frozen
class DemoFlow:
    """One of the seed's end-to-end flows.

    Attributes:
        number: its number in the seed's list (1..4).
        key: a short stable name (``campaign``, ``ab_test``...).
        title: what it shows, for people.
        run: the flow function.
    """

    number: int
    key: str
    title: str
    run: Callable[[DemoContext], dict[str, Any]]


@attrs.frozen
class FlowOutcome:
    """What running one flow gave.

    Attributes:
        flow: the flow.
        status: ``ok``, ``not_available`` (a service is missing in this
            version) or ``failed`` (it raised).
        summary: the flow's summary dict (empty unless ``ok``).
        message: why it is not available or what failed.
        missing: the missing workspace attributes, when not available.
    """

    flow: DemoFlow
    status: FlowStatus
    summary: dict[str, Any] = attrs.field(factory=dict)
    message: str | None = None
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form for the report."""
        body: dict[str, Any] = {
            "number": self.flow.number,
            "key": self.flow.key,
            "title": self.flow.title,
            "status": self.status,
        }
        if self.status == "ok":
            body["summary"] = self.summary
        else:
            body["message"] = self.message
        if self.missing:
            body["missing"] = [f"ws.{path}" for path in self.missing]
        return body


#: The seed's four end-to-end flows, in order.
FLOWS: Final[tuple[DemoFlow, ...]] = (
    DemoFlow(1, "campaign", "Campaign scheduled, launched and tracked", flow_1_campaign),
    DemoFlow(2, "ab_test", "A/B test run and winner applied", flow_2_ab_test),
    DemoFlow(3, "automation", "Automation triggered and executed", flow_3_automation),
    DemoFlow(4, "segment", "Segment built and targeted campaign launched", flow_4_segment),
)


# --------------------------------------------------------------------------- database


def _is_demo_database(path: Path) -> bool:
    if path.stat().st_size == 0:
        return True
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_MARKER_TABLE,)
        ).fetchone()
    except sqlite3.DatabaseError:
        return False
    finally:
        connection.close()
    return row is not None


def prepare_database(path: Path | None, *, option: str = "--database-url") -> None:
    """Delete a previous demo database at ``path`` so the demo starts fresh.

    Args:
        path: the SQLite file, or ``None`` for an in-memory database.
        option: the option the path came from, for problem paths.

    Raises:
        ValidationError: ``path`` exists and is not a demo database (it is left alone).
    """
    if path is None or not path.exists():
        return
    if not path.is_file() or not _is_demo_database(path):
        raise ValidationError.single(
            option,
            f"{str(path)!r} exists and is not a campaign-core demo database; the demo "
            "deletes and recreates its database, so give it another file "
            "(or delete this one yourself)",
            "invalid_value",
        )
    for suffix in ("", *_SQLITE_SIDE_FILES):
        side = path.with_name(path.name + suffix)
        side.unlink(missing_ok=True)


def mark_database(path: Path | None) -> None:
    """Mark a fresh SQLite file as the demo's, so the next run may delete it."""
    if path is None:
        return
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {_MARKER_TABLE} (note TEXT NOT NULL)")
            connection.execute(
                f"INSERT INTO {_MARKER_TABLE} (note) VALUES (?)",
                ("created by campaign-core demo; the next demo run deletes this file",),
            )
    finally:
        connection.close()


def build_context(store: Any, database_url: str) -> DemoContext:
    """A core over ``store`` with a fake clock, sequential ids and a scripted publisher.

    Args:
        store: an upgraded, empty store.
        database_url: the URL it was opened with (for the report).

    Returns:
        The context the flows run in.
    """
    from campaign_core._core import CampaignCore
    from campaign_core.alerts import RecordingAlerter
    from campaign_core.ids import SequentialIds
    from campaign_core.permissions import Actor
    from campaign_core.publishing import RateLimit, ScriptedPublisher

    clock = FakeClock(DEMO_START)
    publisher = ScriptedPublisher({"tiktok": [RateLimit(retry_after=120)]})
    alerter = RecordingAlerter()
    core = CampaignCore(
        store, clock=clock, ids=SequentialIds(), publisher=publisher, alerter=alerter
    )
    return DemoContext(
        core=core,
        clock=clock,
        ws=core.for_actor(Actor(DEMO_OWNER)),
        publisher=publisher,
        alerter=alerter,
        database_url=database_url,
    )


# --------------------------------------------------------------------------- running


def run_flows(
    ctx: DemoContext,
    flows: Sequence[DemoFlow] = FLOWS,
    *,
    on_flow: Callable[[DemoFlow], None] | None = None,
) -> list[FlowOutcome]:
    """Run ``flows`` in order; one failing or unavailable flow does not stop the others.

    Args:
        ctx: the demo context.
        flows: the flows (default :data:`FLOWS`).
        on_flow: called before each flow starts (progress).

    Returns:
        One outcome per flow.
    """
    outcomes: list[FlowOutcome] = []
    for flow in flows:
        if on_flow is not None:
            on_flow(flow)
        try:
            summary = flow.run(ctx)
        except FlowUnavailable as unavailable:
            outcomes.append(
                FlowOutcome(
                    flow,
                    "not_available",
                    message=unavailable.message,
                    missing=unavailable.missing,
                )
            )
        except CampaignCoreError as error:
            outcomes.append(FlowOutcome(flow, "failed", message=f"[{error.code}] {error}"))
        except Exception as error:
            # A demo reports a bug in a flow and goes on with the next one; the
            # command exits 1 and shows the traceback with --verbose.
            outcomes.append(FlowOutcome(flow, "failed", message=f"{type(error).__name__}: {error}"))
        else:
            outcomes.append(FlowOutcome(flow, "ok", summary=to_json(summary)))
    return outcomes


def report_format(ws: Workspace, path: str | None) -> tuple[Path, Literal["json", "pdf"]]:
    """Where the report goes and in which format.

    PDF when the workspace has ``analytics.generate_report`` (the default path
    is then ``campaign-core-demo-report.pdf``), else a JSON summary. The
    format follows the path's suffix when one is given.

    Args:
        ws: the demo's workspace (its services decide what is possible).
        path: the ``--report`` option, or ``None`` for the default.

    Returns:
        The path and the format.

    Raises:
        ValidationError: a suffix other than ``.json`` or ``.pdf``.
        FeatureNotAvailableError: a ``.pdf`` path when PDF reports are not in this version.
    """
    pdf_available = has_service(ws, REPORT_SERVICE)
    if path is None:
        return (
            (Path(DEFAULT_PDF_REPORT), "pdf")
            if pdf_available
            else (Path(DEFAULT_JSON_REPORT), "json")
        )
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        return target, "json"
    if suffix == ".pdf":
        if not pdf_available:
            raise FeatureNotAvailableError("the PDF report", (REPORT_SERVICE,))
        return target, "pdf"
    raise ValidationError.single(
        "--report", f"must end in .json or .pdf, got {str(target)!r}", "invalid_value"
    )


def demo_summary(ctx: DemoContext, outcomes: Sequence[FlowOutcome]) -> dict[str, Any]:
    """The demo's JSON summary: the database, the fake clock's span, each flow's outcome."""
    return {
        "demo": "campaign-core",
        "version": __version__,
        "database": describe_url(ctx.database_url),
        "owner": DEMO_OWNER,
        "clock": {"start": format_datetime(DEMO_START), "end": format_datetime(ctx.clock.now())},
        "flows": [outcome.to_json() for outcome in outcomes],
        "ok": all(outcome.status != "failed" for outcome in outcomes),
    }


def write_report(
    ctx: DemoContext,
    summary: dict[str, Any],
    path: Path,
    fmt: Literal["json", "pdf"],
) -> Path:
    """Write the demo's report.

    Args:
        ctx: the demo context.
        summary: :func:`demo_summary`'s result.
        path: where to write.
        fmt: ``"json"`` (the summary) or ``"pdf"``
            (``ws.analytics.generate_report(campaign_id, format="pdf")`` for the
            campaign flow 1 tracked).

    Returns:
        ``path``.

    Raises:
        CampaignCoreError: the analytics service failed, or no flow produced a
            campaign to report on.
        OSError: the file cannot be written.
    """
    if fmt == "pdf":
        if ctx.report_campaign_id is None:
            raise CampaignCoreError("no flow produced a campaign to report on; no PDF written")
        data = ctx.ws.analytics.generate_report(ctx.report_campaign_id, format="pdf")
        if not isinstance(data, bytes | bytearray):
            raise CampaignCoreError(
                f"generate_report(format='pdf') returned {type(data).__name__}, expected bytes"
            )
        path.write_bytes(bytes(data))
    else:
        path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
