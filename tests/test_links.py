"""Signed subscriber links: purpose, expiry, tampering, versions."""

from __future__ import annotations

import time

import pytest

from status import links

SECRET = "s" * 40


def test_it_round_trips_each_purpose():
    for purpose in links.PURPOSES:
        token = links.make(SECRET, purpose, 12, 345)
        assert links.check(SECRET, purpose, token) == links.LinkSubject(12, 345)


def test_it_refuses_a_token_of_another_purpose():
    token = links.confirm_token(SECRET, 1, 1)
    with pytest.raises(links.BadLink) as err:
        links.check(SECRET, links.UNSUBSCRIBE, token)
    assert not err.value.expired


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: ""])
def test_it_refuses_tampered_tokens(mangle):
    token = links.manage_token(SECRET, 1, 1)
    with pytest.raises(links.BadLink):
        links.check(SECRET, links.MANAGE, mangle(token))


def test_it_refuses_another_secret():
    with pytest.raises(links.BadLink):
        links.check("t" * 40, links.MANAGE, links.manage_token(SECRET, 1, 1))


def test_it_refuses_an_expired_token(monkeypatch):
    token = links.confirm_token(SECRET, 1, 1)
    later = time.time() + links.MAX_AGE[links.CONFIRM] + 10
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(links.BadLink) as err:
        links.check(SECRET, links.CONFIRM, token)
    assert err.value.expired


def test_urls_point_to_the_site():
    token = links.unsubscribe_token(SECRET, 3, 4)
    assert links.url("https://s.example/", links.UNSUBSCRIBE, token) == (
        f"https://s.example/unsubscribe/{token}"
    )


def test_first_versions_differ():
    assert len({links.first_version() for _ in range(20)}) > 1


def test_tokens_are_plain_itsdangerous_tokens_both_ways(monkeypatch):
    # Links in emails already sent keep working, whichever way the token was made.
    from itsdangerous import URLSafeTimedSerializer

    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)  # the same second for both
    for purpose in links.PURPOSES:
        plain = URLSafeTimedSerializer(SECRET, salt=links.SALTS[purpose])
        token = links.make(SECRET, purpose, 12, 987_654_321)
        assert token == plain.dumps([12, 987_654_321])
        assert plain.loads(token) == [12, 987_654_321]
        other = plain.dumps([7, 8])
        assert links.check(SECRET, purpose, other) == links.LinkSubject(7, 8)
