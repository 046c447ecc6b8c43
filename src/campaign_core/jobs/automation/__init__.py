"""The automation engine: the job that runs workflows durably.

The workflow language (what a workflow says) is :mod:`campaign_core.automation`;
this package is what ``core.tick()`` and the fan, segment and privacy hooks do with
it: enrol fans, claim due runs with a lease, advance them step by step, record the
outcome. How a run moves is described in ``docs/explanation/engine-guarantees.md``.

The engine needs three things only services can do (campaign creation, fan writes,
hand-made segment membership): it asks for them through :class:`AutomationPorts`,
which ``CampaignCore`` fills with the services' implementations.
"""

from campaign_core.jobs.automation._definitions import compile_definition
from campaign_core.jobs.automation._engine import Engine, install
from campaign_core.jobs.automation._ports import (
    AutomationPorts,
    CampaignFactory,
    FanWriter,
    SegmentMembership,
)
from campaign_core.jobs.automation._state import (
    AUTOMATION_MARK,
    EngineReport,
    Outcome,
    Round,
    RunState,
    Sleep,
    StepCall,
    StepResult,
    StoreFailure,
)

__all__ = [
    "AUTOMATION_MARK",
    "AutomationPorts",
    "CampaignFactory",
    "Engine",
    "EngineReport",
    "FanWriter",
    "Outcome",
    "Round",
    "RunState",
    "SegmentMembership",
    "Sleep",
    "StepCall",
    "StepResult",
    "StoreFailure",
    "compile_definition",
    "install",
]
