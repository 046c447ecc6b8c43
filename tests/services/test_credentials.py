"""Platform credentials: sealed at rest, never returned in clear, rotatable, handed to the publisher."""

from __future__ import annotations

import json
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    NotFoundError,
    PermissionDeniedError,
    SequentialIds,
    ValidationError,
)
from campaign_core.publishing import (
    CredentialCipher,
    CredentialError,
    PublishRequest,
    PublishSuccess,
)
from campaign_core.testing.helpers import snapshot

KEY_1 = CredentialCipher.generate_key()
KEY_2 = CredentialCipher.generate_key()
SECRET = {"access_token": "tok-very-secret-123", "page_id": "p-42"}


class KeepingPublisher:
    def __init__(self) -> None:
        self.requests: list[PublishRequest] = []

    def publish(self, request: PublishRequest) -> PublishSuccess:
        self.requests.append(request)
        return PublishSuccess(external_id="x")


def build(store: Any, clock: Any, keys: Any, **kw: Any) -> CampaignCore:
    return CampaignCore(store, clock=clock, ids=SequentialIds(), credential_keys=keys, **kw)


def test_stored_value_is_not_the_secret(local_store: Any, clock: Any) -> None:
    """The store holds a sealed token; neither the API nor the store shows the secret."""
    core = build(local_store, clock, [KEY_1])
    ws = core.for_actor(Actor("o1"))
    info = ws.credentials.set_platform_credentials("instagram", SECRET)
    assert (info.platform, info.fields) == ("instagram", ("access_token", "page_id"))
    everything = json.dumps(snapshot(core.store))
    assert "tok-very-secret-123" not in everything
    assert "p-42" not in everything
    assert "tok-very-secret-123" not in repr(ws.credentials.list_platform_credentials())


def test_publisher_receives_the_opened_credential(local_store: Any, clock: Any) -> None:
    """At publish time the publisher gets the credential; its repr hides the values."""
    publisher = KeepingPublisher()
    core = build(local_store, clock, [KEY_1], publisher=publisher)
    ws = core.for_actor(Actor("o1"))
    ws.credentials.set_platform_credentials("reddit", SECRET)
    c = ws.campaigns.create_campaign(
        name="C", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    ws.campaigns.launch_campaign(c.id)
    credential = publisher.requests[0].credential
    assert credential.reveal() == SECRET
    assert "tok-very-secret-123" not in repr(publisher.requests[0])


def test_wrong_key_gives_a_clear_error(local_store: Any, clock: Any) -> None:
    """Opening with keys that did not seal the value is a CredentialError, not garbage."""
    build(local_store, clock, [KEY_1]).for_actor(Actor("o1")).credentials.set_platform_credentials(
        "tiktok", SECRET
    )
    other = CampaignCore(local_store, clock=clock, ids=SequentialIds("b"), credential_keys=[KEY_2])
    with pytest.raises(CredentialError) as info:
        other.for_actor(Actor("o1")).credentials.list_platform_credentials()
    assert info.value.reason == "decryption_failed"
    assert "tok-very" not in str(info.value)


def test_rotation_moves_to_the_newest_key(local_store: Any, clock: Any) -> None:
    """After rotation the old key can be dropped."""
    build(local_store, clock, [KEY_1]).for_actor(Actor("o1")).credentials.set_platform_credentials(
        "tiktok", SECRET
    )
    both = CampaignCore(
        local_store, clock=clock, ids=SequentialIds("b"), credential_keys=[KEY_2, KEY_1]
    )
    assert both.for_actor(Actor("o1")).credentials.rotate_credentials() == 1
    assert both.for_actor(Actor("o1")).credentials.rotate_credentials() == 0
    only_new = CampaignCore(
        local_store, clock=clock, ids=SequentialIds("c"), credential_keys=[KEY_2]
    )
    assert [
        i.platform for i in only_new.for_actor(Actor("o1")).credentials.list_platform_credentials()
    ] == ["tiktok"]


def test_only_owners_manage_credentials_and_bad_input_is_rejected(
    local_store: Any, clock: Any
) -> None:
    """Admins cannot touch credentials; bad platforms and secrets are validation errors."""
    core = build(local_store, clock, [KEY_1])
    admin = core.for_actor(Actor("a", role="admin", account_id="o1"))
    with pytest.raises(PermissionDeniedError):
        admin.credentials.set_platform_credentials("reddit", SECRET)
    ws = core.for_actor(Actor("o1"))
    before = snapshot(core.store)
    with pytest.raises(ValidationError):
        ws.credentials.set_platform_credentials("myspace", SECRET)
    with pytest.raises(ValidationError):
        ws.credentials.set_platform_credentials("reddit", {"token": 5})
    assert snapshot(core.store) == before
    with pytest.raises(NotFoundError):
        ws.credentials.delete_platform_credentials("reddit")


def test_without_keys_credentials_cannot_be_stored(local_store: Any, clock: Any) -> None:
    """A core built without credential keys refuses to store secrets, with a clear error."""
    core = CampaignCore(local_store, clock=clock)
    with pytest.raises(CredentialError) as info:
        core.for_actor(Actor("o1")).credentials.set_platform_credentials("reddit", SECRET)
    assert info.value.reason == "no_keys"
