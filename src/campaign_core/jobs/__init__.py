"""Background jobs: the work ``core.tick()`` does on its own.

Each job lives here, apart from the service that enqueues it: scheduled launches,
publishing with retries, segment refreshes, hourly roll-ups, winner validation and the
automation engine's claim and advance. Jobs sit between the runtime (unit of work,
audit, rate limits) and the services in the import layers
(``docs/explanation/architecture.md``): a job may use the runtime, the ports and the
pure languages, never a service. Where a job needs something a service does, that
piece lives in a job module (or lower) and the service calls it.
"""
