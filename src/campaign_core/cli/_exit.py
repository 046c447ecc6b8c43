"""Exit codes and the CLI's own error: what a script can rely on."""

from __future__ import annotations

import enum

from campaign_core.errors import CampaignCoreError

__all__ = ["ExitCode", "FeatureNotAvailableError"]


class ExitCode(enum.IntEnum):
    """What ``campaign-core`` exits with.

    Attributes:
        OK: the command did what it was asked.
        FAILED: the operation failed, or a tick reported errors.
        USAGE: bad usage or bad input (options, CSV, JSON, URL), or the
            ``cli`` extra is missing; nothing was changed.
        NOT_AVAILABLE: the feature is not in this version or needs an extra
            that is not installed.
        STORE_UNAVAILABLE: the database could not be reached, or has no
            campaign-core tables yet (run ``campaign-core db upgrade``).
        INTERRUPTED: stopped by a second Ctrl-C (the conventional 128 + SIGINT).
    """

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_AVAILABLE = 3
    STORE_UNAVAILABLE = 4
    INTERRUPTED = 130


class FeatureNotAvailableError(CampaignCoreError):
    """The command needs a service this version of campaign-core does not have yet.

    Attributes:
        feature: what was asked for (``"report"``, ``"segment size"``).
        missing: the workspace attributes that are absent (``"analytics.generate_report"``).
    """

    code = "not_available"
    http_status = 501

    def __init__(self, feature: str, missing: tuple[str, ...]) -> None:
        self.feature = feature
        self.missing = missing
        needs = ", ".join(f"ws.{name}" for name in missing)
        super().__init__(
            f"{feature} is not available in this version of campaign-core (it needs {needs})",
            details={"feature": feature, "missing": list(missing)},
        )
