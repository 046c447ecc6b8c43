"""Archiving over HTTP: 409 with the current status from a live state, out of the list, restored."""

from __future__ import annotations

from .conftest import TestClient, new_campaign


def test_archive_and_restore_a_campaign_over_http(client: TestClient) -> None:
    cid = new_campaign(client)["id"]
    refused = client.post(f"/campaigns/{cid}/archive")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["current"] == "draft"
    assert client.post(f"/campaigns/{cid}/cancel").status_code == 200
    archived = client.post(f"/campaigns/{cid}/archive")
    assert archived.status_code == 200
    assert archived.json()["archivedAt"] is not None
    assert client.get("/campaigns").json()["total"] == 0
    assert client.get("/campaigns", params={"includeArchived": "true"}).json()["total"] == 1
    restored = client.post(f"/campaigns/{cid}/restore")
    assert (restored.json()["status"], restored.json()["archivedAt"]) == ("cancelled", None)
