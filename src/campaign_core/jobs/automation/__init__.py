"""The automation engine: the job that runs workflows durably.

The workflow language (what a workflow says) is :mod:`campaign_core.automation`;
this package is what ``core.tick()`` and the fan, segment and privacy hooks do with
it: enrol fans, claim due runs with a lease, advance them step by step, record the
outcome. How a run moves is described in ``docs/explanation/engine-guarantees.md``.

The engine needs three things only services can do (campaign creation, fan writes,
hand-made segment membership): it asks for them through :class:`AutomationPorts`,
which ``CampaignCore`` fills with the services' implementations.
"""

from campaign_core.jobs.automation._engine import (
    Engine as Engine,
)
from campaign_core.jobs.automation._engine import (
    install as install,
)
from campaign_core.jobs.automation._experiments import (
    converted_runs as converted_runs,
)
from campaign_core.jobs.automation._experiments import (
    experiment_test_id as experiment_test_id,
)
from campaign_core.jobs.automation._ports import (
    AutomationPorts as AutomationPorts,
)
from campaign_core.jobs.automation._state import (
    Round as Round,
)
from campaign_core.jobs.automation._state import (
    RunState as RunState,
)
from campaign_core.jobs.automation._state import (
    Sleep as Sleep,
)
from campaign_core.jobs.automation._state import (
    StepResult as StepResult,
)
from campaign_core.jobs.automation._state import (
    StoreFailure as StoreFailure,
)
from campaign_core.jobs.automation._state import (
    held_out as held_out,
)

__all__: list[str] = []
