"""Signed URLs (core/signing.py): good for one path, one owner, until they expire."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from core.signing import expiry, sign_path, signature, verify

SECRET = b"s" * 32
A, B = "key-aaaaaaaaaaaaaaaaaaaaaaaa", "key-bbbbbbbbbbbbbbbbbbbbbbbb"
PATH = "/api/jobs/" + "1" * 32 + "/events"
NOW = 1_700_000_000.0


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    q = parse_qs(split.query)
    return split.path, q["exp"][0], q["sig"][0]


def test_a_signed_path_verifies_for_its_owner_until_it_expires():
    path, exp, sig = _parts(sign_path(SECRET, A, PATH, now=NOW, ttl=900))
    assert path == PATH and NOW + 900 <= int(exp) <= NOW + 900 + 300
    assert verify(SECRET, [B, A], path, exp, sig, now=NOW) == A
    assert verify(SECRET, [A], path, exp, sig, now=int(exp)) == A  # the last second still counts
    assert verify(SECRET, [A], path, exp, sig, now=int(exp) + 1) is None


def test_tampering_with_path_exp_owner_or_secret_fails():
    path, exp, sig = _parts(sign_path(SECRET, A, PATH, now=NOW, ttl=900))
    assert verify(SECRET, [A], path.replace("/events", "/result.png"), exp, sig, now=NOW) is None
    assert verify(SECRET, [A], path + "/", exp, sig, now=NOW) is None
    assert verify(SECRET, [A], path, str(int(exp) + 3600), sig, now=NOW) is None  # a later expiry
    assert verify(SECRET, [B], path, exp, sig, now=NOW) is None  # signed for A, only B is a key now
    assert verify(b"t" * 32, [A], path, exp, sig, now=NOW) is None
    assert verify(SECRET, [A], path, exp, sig[:-1] + ("0" if sig[-1] != "0" else "1"), now=NOW) is None
    assert verify(SECRET, [A], path, "soon", sig, now=NOW) is None
    assert verify(SECRET, [A], path, exp, "", now=NOW) is None


def test_urls_within_one_step_are_the_same_so_browsers_cache_them():
    assert sign_path(SECRET, A, PATH, now=700.0, ttl=900) == sign_path(SECRET, A, PATH, now=800.0, ttl=900)
    assert sign_path(SECRET, A, PATH, now=700.0, ttl=900) != sign_path(SECRET, A, PATH, now=901.0, ttl=900)
    assert expiry(600.0, 900) == 1500 and expiry(601.0, 900) == 1800  # steps of ttl / 3
    assert expiry(0.5, 60) == 120  # at least a minute per step


def test_a_query_already_there_is_kept_and_not_signed():
    url = sign_path(SECRET, A, PATH + "?wait=5", now=NOW, ttl=900)
    assert url.startswith(PATH + "?wait=5&exp=")
    path, exp, sig = _parts(url)
    assert sig == signature(SECRET, A, PATH, int(exp))
