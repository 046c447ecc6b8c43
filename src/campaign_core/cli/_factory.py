"""``--core module:attribute``: run the commands with the host's own wired core.

Without it the commands build ``CampaignCore(store)`` with the library's
default ports, which *record* publishes, messages and alerts in memory: right
for trying things, wrong for production, where a tick must publish through
the host's real :class:`~campaign_core.publishing.Publisher`. A host exposes a
factory (``def build_core() -> CampaignCore``) and points the worker at it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Final

from campaign_core.errors import CampaignCoreError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core._core import CampaignCore

__all__ = ["CORE_FACTORY_ENV", "load_core"]

CORE_FACTORY_ENV: Final = "CAMPAIGN_CORE_FACTORY"


def load_core(spec: str, *, option: str = "--core") -> CampaignCore:
    """Import ``module:attribute`` and return the core it names or builds.

    The attribute may be a :class:`~campaign_core.CampaignCore` or a callable
    taking no arguments that returns one (dotted attributes are followed). The
    current directory is importable, as with ``python -m``.

    Args:
        spec: ``"package.module:attribute"``.
        option: the option the spec came from, for problem paths.

    Returns:
        The core.

    Raises:
        ValidationError: a malformed spec, a module that cannot be found, a
            missing attribute, or something other than a core.
        CampaignCoreError: the module or the factory raised (a library error
            raised by the factory, such as ``StoreUnavailableError``, is passed
            through unchanged).
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise ValidationError.single(
            option, f'{spec!r} is not "module:attribute" (e.g. myapp.campaigns:build_core)'
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name.strip())
    except ModuleNotFoundError as error:
        if error.name and module_name.strip().startswith(error.name):
            raise ValidationError.single(
                option, f"cannot import {module_name.strip()!r}: {error}"
            ) from None
        raise CampaignCoreError(f"importing {module_name.strip()!r} failed: {error}") from error
    except Exception as error:
        raise CampaignCoreError(
            f"importing {module_name.strip()!r} failed: {type(error).__name__}: {error}"
        ) from error
    from campaign_core._core import CampaignCore

    target: object = module
    for part in attribute.strip().split("."):
        if not hasattr(target, part):
            raise ValidationError.single(
                option, f"{module_name.strip()!r} has no attribute {attribute.strip()!r}"
            )
        target = getattr(target, part)
    if not isinstance(target, CampaignCore) and callable(target):
        try:
            target = target()
        except CampaignCoreError:
            raise
        except Exception as error:
            raise CampaignCoreError(f"{spec} raised {type(error).__name__}: {error}") from error
    if not isinstance(target, CampaignCore):
        raise ValidationError.single(
            option,
            f"{spec} gave a {type(target).__name__}, expected a CampaignCore "
            "(or a function returning one)",
            "invalid_type",
        )
    return target
