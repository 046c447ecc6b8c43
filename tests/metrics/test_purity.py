"""Importing the metrics package must not import boto3 or botocore."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_import_does_not_load_the_aws_sdk() -> None:
    """`import campaign_core.metrics` leaves boto3 and botocore unloaded."""
    code = (
        "import sys; import campaign_core.metrics as m; "
        "m.MetricsEmitter(m.InMemoryMetrics()).campaign_created(campaign_type='ppv'); "
        "m.EmfMetrics(output=lambda line: None); "
        "print(sorted(n for n in ('boto3', 'botocore', 'moto') if n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    assert result.stdout.strip() == "[]"
