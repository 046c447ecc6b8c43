"""The Embedded Metric Format rules, written from the CloudWatch EMF specification.

The structural rules are a JSON schema (checked with jsonschema); the rules a
schema cannot express (target members must exist and have the right type, one
line per document, size limit) are checked in Python by :func:`check_emf_line`.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip

EMF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            # "objects defined by this specification MUST NOT contain any additional members"
            "additionalProperties": False,
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/$defs/MetricDirective"},
                },
            },
        }
    },
    "$defs": {
        "MetricDirective": {
            "type": "object",
            "required": ["Namespace", "Dimensions", "Metrics"],
            "additionalProperties": False,
            "properties": {
                "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                "Dimensions": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "maxItems": 30,
                        "uniqueItems": True,
                        "items": {"type": "string", "minLength": 1, "maxLength": 255},
                    },
                },
                "Metrics": {
                    "type": "array",
                    "maxItems": 100,
                    "items": {"$ref": "#/$defs/MetricDefinition"},
                },
            },
        },
        "MetricDefinition": {
            "type": "object",
            "required": ["Name"],
            "additionalProperties": False,
            "properties": {
                "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                "Unit": {"enum": UNITS},
                "StorageResolution": {"enum": [1, 60]},
            },
        },
    },
}

MAX_BYTES = 256 * 1024
_VALIDATOR = jsonschema.Draft202012Validator(EMF_SCHEMA)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def check_emf_line(line: str) -> dict[str, Any]:
    """Validate one EMF line against the specification; return the parsed document.

    Raises:
        AssertionError: with the first rule broken.
    """
    assert "\n" not in line.rstrip("\n"), "a document must be a single line"
    assert len(line.encode()) <= MAX_BYTES, f"document is {len(line.encode())} bytes"
    document = json.loads(line, parse_constant=_reject_constant)
    assert isinstance(document, dict), "the root must be a JSON object"
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        names = [m["Name"] for m in directive["Metrics"]]
        assert len(names) == len(set(names)), f"duplicate metric names {names}"
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                assert key in document, f"dimension {key!r} has no target member"
                value = document[key]
                assert isinstance(value, str), f"dimension {key!r} must be a string"
                assert 1 <= len(value) <= 1024, f"dimension {key!r} value length"
        for name in names:
            assert name in document, f"metric {name!r} has no target member"
            value = document[name]
            if isinstance(value, list):
                assert 1 <= len(value) <= 100, f"metric {name!r} has {len(value)} values"
                assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in value), (
                    f"metric {name!r} values must be numbers"
                )
            else:
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                assert is_number, f"metric {name!r} must be a number"
    return document
