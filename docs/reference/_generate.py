"""Write the API reference pages from the public modules' ``__all__``.

Run from the repository's root after adding or moving a public name::

    python docs/reference/_generate.py

Each object is documented once, at its home: the shortest public module path that exports
it (the package root only for what lives nowhere else), the defining module first on a tie.
``tests/test_reference.py`` fails when a page is out of date.
"""

import collections
import importlib
import pkgutil
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, "src")
import campaign_core
import campaign_core_http
import campaign_core_memory
import campaign_core_sqlalchemy

mods = []
for pkg in (campaign_core, campaign_core_memory, campaign_core_sqlalchemy, campaign_core_http):
    mods.append(pkg.__name__)
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if any(p.startswith("_") and not p.startswith("__") for p in info.name.split(".")):
            continue
        mods.append(info.name)
exports = {}
for m in mods:
    try:
        mod = importlib.import_module(m)
    except Exception:
        continue
    if hasattr(mod, "__all__"):
        exports[m] = list(mod.__all__)
places = collections.defaultdict(list)
for m, names in exports.items():
    for n in names:
        places[id(getattr(sys.modules[m], n))].append((m, n))


def home_of(key):
    ps = places[key]
    o = getattr(sys.modules[ps[0][0]], ps[0][1])
    defined = getattr(o, "__module__", "") or ""
    cand = [p for p in ps if p[0] != "campaign_core"] or ps
    return sorted(
        cand, key=lambda p: (p[0].count("."), 0 if defined.startswith(p[0]) else 1, p[0])
    )[0]


own = collections.defaultdict(list)
excluded = collections.defaultdict(list)
for m, names in exports.items():
    for n in names:
        h = home_of(id(getattr(sys.modules[m], n)))
        (own if h == (m, n) else excluded)[m].append(n)
PAGES = {
    "api.md": (
        "The core",
        "The composition root and what `import campaign_core` gives: `CampaignCore`, the workspace it hands out per actor, and the report of `tick()`. The package root also re-exports the names most hosts need (`Actor`, `Settings`, `FakeClock`, the errors, the records, `to_json`...); each is documented where it lives, on the pages below.",
        ["campaign_core"],
    ),
    "services.md": (
        "Workspace services",
        "What `core.for_actor(actor)` gives: `ws.campaigns`, `ws.abtests`, `ws.fans`, `ws.segments`, `ws.automations`, `ws.analytics`, `ws.credentials`, `ws.messages` and `ws.audit`, with their result types. Every method checks the actor's permission, validates its input (a `ValidationError` with a path per problem) and runs in one transaction.",
        [
            "campaign_core.services",
            "campaign_core.services.abtests",
            "campaign_core.services.analytics",
            "campaign_core.services.automations",
            "campaign_core.services.fans",
            "campaign_core.services.segments",
        ],
    ),
    "models.md": (
        "Records",
        "The frozen attrs records the services return and the stores keep. `to_json` gives the seed's camelCase field names.",
        ["campaign_core.models"],
    ),
    "statistics-api.md": (
        "Statistics and A/B decisions",
        "Pure functions on scalars and numpy arrays, checked against statsmodels and scipy in the tests (see {doc}`../explanation/statistics`), and the A/B decision built on them (see\n{doc}`../howto/run-an-ab-test`).",
        ["campaign_core.stats", "campaign_core.abtesting"],
    ),
    "criteria-api.md": (
        "Criteria and audiences",
        "The criteria language's functions and its three evaluators ({doc}`criteria` describes the language), and the per-fan audience evaluation stores without their own audience queries use.",
        ["campaign_core.criteria", "campaign_core.audience"],
    ),
    "analytics-api.md": (
        "Analytics computations",
        "Pure computations over tracking events and counts: metrics, funnels, ROI, comparisons, trends, patterns, recommendations, reports and charts ({doc}`metrics-definitions`, {doc}`../howto/reports`).",
        ["campaign_core.analytics"],
    ),
    "delivery-api.md": (
        "Messaging and delivery",
        "The messaging settings and the one send policy every send path shares: consent topics and their defaults, suppression, addresses, quiet hours and frequency caps in the fan's zone, local send times across DST changes. A campaign's message reaches its audience through the broadcast job ({doc}`../howto/broadcast`).",
        ["campaign_core.delivery"],
    ),
    "automation-api.md": (
        "Automations",
        "The workflow language (parsing, validation, settings) and the engine's action registry, through which built-in and custom actions are dispatched ({doc}`../howto/automations`, {doc}`../explanation/engine-guarantees`).",
        [
            "campaign_core.automation",
            "campaign_core.jobs.automation",
            "campaign_core.jobs.automation.actions",
        ],
    ),
    "publishing-api.md": (
        "Publishing",
        "Platforms and their limits as data ({doc}`platform-limits`), content adaptation, the publisher port and its test doubles, sealed credentials ({doc}`../howto/publishing`).",
        ["campaign_core.publishing"],
    ),
    "messages-api.md": (
        "Message templates",
        "Liquid message templates per channel and locale: validation at save, rendering for one fan (the one path every send uses), previews, locales and their fallbacks, channel limits and render bounds, and the built-in templates ({doc}`../howto/message-templates`).",
        ["campaign_core.messages", "campaign_core.jobs.messages"],
    ),
    "metrics-api.md": (
        "Metrics for CloudWatch",
        "The metrics port, its adapters, the emitter the core uses, and the provisioning of the seed's alarms and dashboard ({doc}`metrics-definitions`, {doc}`../howto/cloudwatch`).",
        ["campaign_core.metrics"],
    ),
    "storage.md": (
        "Stores, ports and testing",
        "What a store is (the ports, the query language, the entities), the two stores that ship, the SQL store's migrations, and the contract suite, helpers and strategies for your own tests.",
        [
            "campaign_core.ports",
            "campaign_core.query",
            "campaign_core.entities",
            "campaign_core_memory",
            "campaign_core_sqlalchemy",
            "campaign_core_sqlalchemy.migrations",
            "campaign_core.testing",
            "campaign_core.testing.helpers",
            "campaign_core.testing.strategies",
        ],
    ),
    "http-api.md": (
        "HTTP API",
        "The workspace services as an ASGI app ({doc}`../howto/http-api`): the app and its route table, the actor resolvers, the idempotency port, the OpenAPI document and the errors a resolver raises.",
        ["campaign_core_http"],
    ),
    "jobs.md": (
        "Background jobs",
        "What `tick()` does on its own, each job apart from the service that enqueues it ({doc}`../explanation/architecture`). Hosts call `core.tick()`; these are documented for those who run a job alone or read the engine.",
        [
            "campaign_core.jobs.launches",
            "campaign_core.jobs.publishing",
            "campaign_core.jobs.credentials",
            "campaign_core.jobs.budget",
            "campaign_core.jobs.segments",
            "campaign_core.jobs.retention",
            "campaign_core.jobs.rollup",
            "campaign_core.jobs.winners",
        ],
    ),
    "runtime.md": (
        "Runtime and utilities",
        "Settings, permissions, the lifecycle table, the template catalog, the audit trail, rate limits, caches and alerts; errors; the clock, durations, ids and JSON; the command line's exit codes.",
        [
            "campaign_core.settings",
            "campaign_core.errors",
            "campaign_core.permissions",
            "campaign_core.lifecycle",
            "campaign_core.export",
            "campaign_core.catalog",
            "campaign_core.audit",
            "campaign_core.ratelimit",
            "campaign_core.cache",
            "campaign_core.alerts",
            "campaign_core.clock",
            "campaign_core.durations",
            "campaign_core.ids",
            "campaign_core.serialization",
            "campaign_core.cli",
        ],
    ),
}
listed = {m for _, _, ms in PAGES.values() for m in ms}
missing = [m for m in exports if own[m] and m not in listed]
print("MISSING", missing)


def main() -> None:
    for name, (title, intro, modules) in PAGES.items():
        body = (
            f"# {title}\n\n"
            + "\n".join(textwrap.wrap(intro, 95, break_on_hyphens=False, break_long_words=False))
            + "\n"
        )
        for m in modules:
            if m not in exports or not own[m]:
                continue
            body += f"\n## `{m}`\n\n```{{eval-rst}}\n.. automodule:: {m}\n   :members:\n"
            if m == "campaign_core.services":
                body += "   :inherited-members:\n"
            if excluded[m]:
                body += "   :exclude-members: " + ", ".join(sorted(excluded[m])) + "\n"
            body += "```\n"
        Path(f"docs/reference/{name}").write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
