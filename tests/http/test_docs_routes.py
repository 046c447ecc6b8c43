"""The how-to's route table is the route table."""

from __future__ import annotations

from pathlib import Path

from campaign_core_http import ROUTES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "howto" / "http-api.md"


def routes_table() -> str:
    lines = ["| method | path | service method |", "|---|---|---|"]
    lines += [f"| {r.method} | `{r.path}` | `{r.call}` |" for r in ROUTES]
    return "\n".join(lines)


def test_the_page_lists_every_route() -> None:
    text = PAGE.read_text(encoding="utf-8")
    shown = text.split("<!-- routes:start -->\n", 1)[1].split("\n<!-- routes:end -->", 1)[0]
    assert shown == routes_table(), "update the table in docs/howto/http-api.md"
