"""Automations: the workflow language, its validation, cron, and the engine's settings.

The seed's workflows are written as JSON and accepted verbatim::

    from campaign_core.automation import parse_workflow

    welcome = parse_workflow({
        "name": "New Fan Welcome Series",
        "trigger": {"type": "event", "event": "fan.subscribed"},
        "actions": [
            {"type": "wait", "duration": "5 minutes"},
            {"type": "send_message", "template": "welcome_message", "personalize": True},
        ],
    })
    welcome.first          # 'step-1'

The interpreter that runs them durably lives in the core: workflows are
managed through ``workspace.automations`` and advanced by ``core.tick()``.
"""

from campaign_core.automation._conditions import (
    EngagementCondition,
    PropertyCondition,
)
from campaign_core.automation._conditions import (
    match_properties as match_properties,
)
from campaign_core.automation._cron import CronSchedule
from campaign_core.automation._expressions import (
    ExpressionError as ExpressionError,
)
from campaign_core.automation._expressions import (
    Scope as Scope,
)
from campaign_core.automation._expressions import (
    evaluate as evaluate,
)
from campaign_core.automation._expressions import (
    parse_expression as parse_expression,
)
from campaign_core.automation._expressions import (
    render_template as render_template,
)
from campaign_core.automation._graph import (
    find_workflow_cycle as find_workflow_cycle,
)
from campaign_core.automation._parse import (
    parse_trigger as parse_trigger,
)
from campaign_core.automation._parse import (
    parse_workflow,
)
from campaign_core.automation._settings import (
    ActionContext,
    ActionFailed,
    ActionRegistry,
    AutomationSettings,
    CustomAction,
)
from campaign_core.automation._steps import BUILTIN_STEPS, StepSpec
from campaign_core.automation._webhook_http import HttpWebhookSender
from campaign_core.automation._webhooks import (
    RecordingWebhookSender,
    WebhookSettings,
)
from campaign_core.automation._webhooks import (
    WebhookRequest as WebhookRequest,
)
from campaign_core.automation._webhooks import (
    WebhookResponse as WebhookResponse,
)
from campaign_core.automation._webhooks import (
    WebhookSender as WebhookSender,
)
from campaign_core.automation._webhooks import (
    check_timeout as check_timeout,
)
from campaign_core.automation._webhooks import (
    check_url as check_url,
)
from campaign_core.automation._workflow import (
    Branch,
    Experiment,
    Goal,
    OnError,
    OverduePolicy,
    Reentry,
    Reference,
    Step,
    Trigger,
    TriggerType,
    Workflow,
    WorkflowSettings,
)

__all__ = [
    "BUILTIN_STEPS",
    "ActionContext",
    "ActionFailed",
    "ActionRegistry",
    "AutomationSettings",
    "Branch",
    "CronSchedule",
    "CustomAction",
    "EngagementCondition",
    "Experiment",
    "Goal",
    "HttpWebhookSender",
    "OnError",
    "OverduePolicy",
    "PropertyCondition",
    "RecordingWebhookSender",
    "Reentry",
    "Reference",
    "Step",
    "StepSpec",
    "Trigger",
    "TriggerType",
    "WebhookSettings",
    "Workflow",
    "WorkflowSettings",
    "parse_workflow",
]
