"""Limits an attacker meets: the verification rate limit holds whatever X-Forwarded-For says,
wrong passwords lock an account and an address out for a while, tokens are not minted in bulk."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from ledgerline.api.accounts import TokenCreateThrottle
from ledgerline.api.audit import AnonVerifyThrottle

HASH = "ab" * 32
PASSWORD = "a long test password"


@pytest.fixture
def two_verifications_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonVerifyThrottle, "THROTTLE_RATES", {"verify_anon": "2/min", "verify_user": "100/min"})


def _verify(client: APIClient, **headers: str) -> int:
    return client.post("/api/v1/verify", {"content_sha256": HASH}, format="json", **headers).status_code


def test_a_forged_forwarded_header_does_not_reset_the_limit(db: Any, two_verifications_a_minute: None) -> None:
    client = APIClient()
    assert [_verify(client), _verify(client)] == [201, 201]
    assert _verify(client) == 429
    assert _verify(client, HTTP_X_FORWARDED_FOR="10.99.0.2") == 429
    assert _verify(client, HTTP_X_FORWARDED_FOR="10.99.0.3, 10.99.0.4") == 429


def test_behind_a_proxy_the_address_it_forwards_is_counted(
    db: Any, settings: Any, two_verifications_a_minute: None
) -> None:
    settings.NUM_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    # The client forges a first entry; our proxy appends the address it saw, which is what counts.
    assert [_verify(client, HTTP_X_FORWARDED_FOR=f"1.1.1.{i}, 203.0.113.7") for i in range(3)] == [201, 201, 429]
    assert _verify(client, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.8") == 201


def _sign_in(client: Client, username: str, password: str, address: str = "198.51.100.1") -> Any:
    client.get("/login/")
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_account_out_with_a_reason(team: Any) -> None:
    client = Client()
    for _ in range(4):
        assert _sign_in(client, "teammate", "guess").status_code == 200  # the form again, with its error
    assert _sign_in(client, "teammate", "guess").status_code == 429  # the fifth locks it
    refused = _sign_in(client, "teammate", PASSWORD)
    assert refused.status_code == 429
    assert b"paused for 15 minutes" in refused.content
    assert int(refused["Retry-After"]) == 15 * 60
    # From another address too: it is the account that is locked.
    assert _sign_in(Client(), "teammate", PASSWORD, address="198.51.100.2").status_code == 429
    # Other accounts are not.
    assert _sign_in(Client(), "auditor", PASSWORD, address="198.51.100.3").status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(team: Any) -> None:
    for name in ["a", "b", "c", "d", "e"]:
        _sign_in(Client(), f"no-such-{name}", "guess", address="198.51.100.9")
    assert _sign_in(Client(), "owner", PASSWORD, address="198.51.100.9").status_code == 429
    assert _sign_in(Client(), "owner", PASSWORD, address="198.51.100.10").status_code == 302


def test_a_forged_forwarded_header_does_not_escape_the_lockout(team: Any) -> None:
    for i in range(5):
        Client().post(
            "/login/",
            {"username": f"nobody{i}", "password": "x"},
            REMOTE_ADDR="198.51.100.20",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    locked = Client().post(
        "/login/",
        {"username": "owner", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.20",
        HTTP_X_FORWARDED_FOR="10.0.0.99",
    )
    assert locked.status_code == 429


def test_a_right_password_before_the_limit_clears_the_count(team: Any) -> None:
    client = Client()
    for _ in range(4):
        _sign_in(client, "teammate", "guess")
    assert _sign_in(client, "teammate", PASSWORD).status_code == 302
    for _ in range(4):
        _sign_in(Client(), "teammate", "guess")
    assert _sign_in(Client(), "teammate", PASSWORD).status_code == 302


def test_tokens_are_not_created_in_bulk(team: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TokenCreateThrottle, "THROTTLE_RATES", {"token_create": "3/hour"})
    client = APIClient()
    client.force_login(team.teammate.user)
    made = [client.post("/api/v1/tokens/", {"name": f"t{i}"}, format="json").status_code for i in range(4)]
    assert made == [201, 201, 201, 429]
    refused = client.post("/api/v1/tokens/", {"name": "again"}, format="json")
    assert "throttled" in refused.json()["error"]["code"] and int(refused["Retry-After"]) > 0
    assert client.get("/api/v1/tokens/").status_code == 200  # listing them is not limited
