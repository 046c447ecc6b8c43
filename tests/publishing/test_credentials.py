"""Platform credentials: sealed at rest, hidden in output, rotatable, clear errors on a wrong key."""

from __future__ import annotations

import base64
import builtins
import json
import pickle
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campaign_core.clock import FakeClock
from campaign_core.errors import MissingDependencyError, ValidationError
from campaign_core.publishing import CredentialCipher, CredentialError, PlatformCredential, Secret

SECRET = {"accessToken": "IGQVJ-super-secret-token-0123456789", "appSecret": "s3cr3t-app"}


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(CredentialCipher.generate_key())


def test_round_trip(cipher: CredentialCipher) -> None:
    """A sealed credential opens to the same secrets."""
    token = cipher.seal("instagram", SECRET, owner_id="u1")
    credential = cipher.open(token, platform="instagram", owner_id="u1")
    assert credential.reveal() == SECRET
    assert credential.platform == "instagram"
    assert credential.owner_id == "u1"
    assert credential["accessToken"] == Secret(SECRET["accessToken"])
    assert credential.names == ("accessToken", "appSecret")


def test_the_stored_value_is_not_the_secret_and_does_not_contain_it(
    cipher: CredentialCipher,
) -> None:
    """The token holds no secret in clear, raw or base64-decoded."""
    token = cipher.seal("instagram", SECRET)
    raw = base64.urlsafe_b64decode(token)
    for value in SECRET.values():
        assert value not in token
        assert value.encode() not in raw
        assert base64.b64encode(value.encode()).decode()[:12] not in token
    assert token != cipher.seal("instagram", SECRET)  # fresh IV every time


def test_a_wrong_key_gives_a_clear_error(cipher: CredentialCipher) -> None:
    """Opening with another key raises CredentialError(decryption_failed) without leaking anything."""
    token = cipher.seal("reddit", SECRET)
    other = CredentialCipher(CredentialCipher.generate_key())
    with pytest.raises(CredentialError) as exc:
        other.open(token)
    assert exc.value.reason == "decryption_failed"
    assert exc.value.code == "credential_error"
    assert exc.value.http_status == 500
    assert other.key_ids[0] in exc.value.message
    text = str(exc.value) + json.dumps(exc.value.to_json())
    assert token not in text
    assert all(v not in text for v in SECRET.values())


def test_an_altered_token_is_detected(cipher: CredentialCipher) -> None:
    """Changing a token makes it fail to open instead of decrypting into garbage."""
    token = cipher.seal("reddit", SECRET)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[40] ^= 1
    with pytest.raises(CredentialError) as exc:
        cipher.open(base64.urlsafe_b64encode(bytes(raw)).decode())
    assert exc.value.reason == "decryption_failed"
    with pytest.raises(CredentialError) as exc:
        cipher.open("not a token ✨")
    assert exc.value.reason == "malformed_token"
    with pytest.raises(ValidationError):
        cipher.open(12345)  # type: ignore[arg-type]


def test_invalid_and_missing_keys_are_typed_errors() -> None:
    """A malformed key or no key at all raises CredentialError with its reason."""
    with pytest.raises(CredentialError) as exc:
        CredentialCipher([CredentialCipher.generate_key(), "too-short"])
    assert exc.value.reason == "invalid_key"
    assert "key 2 of 2" in exc.value.message
    assert "too-short" not in exc.value.message
    with pytest.raises(CredentialError) as exc:
        CredentialCipher([])
    assert exc.value.reason == "no_keys"


def test_rotation_re_encrypts_under_the_newest_key() -> None:
    """After rotation, a token opens with the new key alone and keeps its timestamp."""
    old_key, new_key = CredentialCipher.generate_key(), CredentialCipher.generate_key()
    clock = FakeClock(datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    old = CredentialCipher(old_key, clock=clock)
    token = old.seal("tiktok", SECRET)
    both = CredentialCipher([new_key, old_key])
    assert both.open(token).reveal() == SECRET
    assert both.needs_rotation(token)
    rotated = both.rotate(token)
    assert not both.needs_rotation(rotated)
    new_only = CredentialCipher(Secret(new_key))
    opened = new_only.open(rotated)
    assert opened.reveal() == SECRET
    assert opened.sealed_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    with pytest.raises(CredentialError) as exc:
        new_only.open(token)
    assert exc.value.reason == "decryption_failed"
    with pytest.raises(CredentialError):
        CredentialCipher(CredentialCipher.generate_key()).rotate(token)
    with pytest.raises(CredentialError):
        new_only.needs_rotation(token)


def test_a_token_is_bound_to_its_platform_and_owner(cipher: CredentialCipher) -> None:
    """Opening a token as another platform's or owner's is refused."""
    token = cipher.seal("onlyfans", SECRET, owner_id="u1")
    with pytest.raises(CredentialError) as exc:
        cipher.open(token, platform="reddit")
    assert exc.value.reason == "platform_mismatch"
    with pytest.raises(CredentialError) as exc:
        cipher.open(token, owner_id="u2")
    assert exc.value.reason == "owner_mismatch"


def test_repr_str_and_json_hide_the_secret(cipher: CredentialCipher) -> None:
    """Printing, formatting or serializing a credential never shows a secret."""
    credential = cipher.open(cipher.seal("instagram", SECRET, owner_id="u1"))
    shown = [
        repr(credential),
        str(credential),
        f"{credential}",
        json.dumps(credential.to_json()),
        repr(credential["accessToken"]),
        str(credential["accessToken"]),
        f"{credential['accessToken']}|{credential['accessToken']:>10}",
        repr(credential.fields),
        repr(cipher),
    ]
    for text in shown:
        assert all(v not in text for v in SECRET.values()), text
    assert credential.to_json()["fields"] == {"accessToken": "***", "appSecret": "***"}
    with pytest.raises(TypeError):
        pickle.dumps(credential["accessToken"])


def test_secrets_compare_by_value() -> None:
    """Secrets are equal when their values are, and hash alike."""
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert hash(Secret("a")) == hash(Secret("a"))
    assert Secret(Secret("a")).reveal() == "a"
    with pytest.raises(ValidationError):
        Secret(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("platform", "secret", "path"),
    [
        ("myspace", SECRET, "platform"),
        ("reddit", {}, "secret"),
        ("reddit", ["token"], "secret"),
        ("reddit", {"token": 12345}, "secret[0]"),
        ("reddit", {"token": "x" * 20_000}, "secret[0]"),
    ],
)
def test_bad_seal_input_is_rejected_without_echoing_values(
    cipher: CredentialCipher, platform: str, secret: Any, path: str
) -> None:
    """Bad platforms or secrets give ValidationError at the path, never showing the value."""
    with pytest.raises(ValidationError) as exc:
        cipher.seal(platform, secret)
    assert path in {p.path for p in exc.value.problems}
    assert "12345" not in str(exc.value)


def test_sealed_at_comes_from_the_injected_clock() -> None:
    """The token's timestamp is the injected clock's time."""
    clock = FakeClock(datetime(2026, 2, 1, tzinfo=UTC))
    cipher = CredentialCipher(CredentialCipher.generate_key(), clock=clock)
    assert cipher.open(cipher.seal("reddit", SECRET)).sealed_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the cryptography package, building a cipher says to install the crypto extra."""
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(sys.modules, "cryptography.fernet", raising=False)
    with pytest.raises(MissingDependencyError) as exc:
        CredentialCipher("x")
    assert exc.value.extra == "crypto"
    with pytest.raises(MissingDependencyError):
        CredentialCipher.generate_key()


def test_platform_credential_is_a_plain_value() -> None:
    """A PlatformCredential can be built directly and masks its fields."""
    credential = PlatformCredential("reddit", (("token", Secret("abc")),))
    assert credential.reveal() == {"token": "abc"}
    with pytest.raises(ValidationError):
        credential["missing"]


def test_importing_publishing_does_not_import_cryptography() -> None:
    """cryptography is only imported when a cipher is built, so the core stays pure."""
    import subprocess

    code = "import sys, campaign_core.publishing; print('cryptography' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert out.stdout.strip() == "False"
