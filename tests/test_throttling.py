"""Throttles on the doors that check passwords or create accounts; the annotation loop has none."""

from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from pluralweb.throttling import sliding_wait


@pytest.fixture
def rates(settings):
    """Small limits so that a test reaches them in a few calls."""
    settings.PLURALWEB_THROTTLE_RATES = {
        "login-ip": (5, 60), "login-user": (3, 60), "login-all": (50, 60), "join-ip": (4, 3600), "join-id": (2, 3600),
    }
    return settings.PLURALWEB_THROTTLE_RATES


def _from(address: str, **headers) -> APIClient:
    return APIClient(REMOTE_ADDR=address, **headers)


def _token_login(client, username: str, password: str = "wrong-password"):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    # At most two windows: the sliding window still weighs the last one (the longest window here is an hour).
    assert 1 <= int(response["Retry-After"]) <= 2 * 3600


def test_token_login_answers_429_with_retry_after_once_one_user_had_too_many_wrong_passwords(rates, researcher):
    for n in range(3):
        assert _token_login(_from(f"10.0.0.{n}"), "researcher").status_code == 400
    _assert_throttled(_token_login(_from("10.0.0.9"), "researcher", "pw-researcher-1"))
    assert _token_login(_from("10.0.0.9"), "stranger").status_code == 400  # another user is not blocked


def test_token_login_answers_429_once_one_address_tried_too_many_users(rates, db):
    client = _from("10.0.1.1")
    for n in range(5):
        assert _token_login(client, f"nobody-{n}").status_code == 400
    _assert_throttled(_token_login(client, "nobody-else"))
    assert _token_login(_from("10.0.1.2"), "nobody-else").status_code == 400


def test_a_forged_forwarded_for_header_does_not_buy_new_attempts(rates, db):
    for n in range(5):
        assert _token_login(_from("10.0.2.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), f"u{n}").status_code == 400
    _assert_throttled(_token_login(_from("10.0.2.1", HTTP_X_FORWARDED_FOR="192.0.2.99"), "u99"))


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(rates, settings, db):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.3.1"
    for n in range(5):
        assert _token_login(_from(proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"), f"v{n}").status_code == 400
    _assert_throttled(_token_login(_from(proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"), "v9"))
    assert _token_login(_from(proxy, HTTP_X_FORWARDED_FOR="198.51.100.2"), "v9").status_code == 400


def test_the_whole_site_caps_password_checks(rates, db):
    rates["login-all"] = (4, 60)
    for n in range(4):
        assert _token_login(_from(f"10.0.4.{n}"), f"w{n}").status_code == 400
    _assert_throttled(_token_login(_from("10.0.4.200"), "w200"))


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_sign_in_pages_answer_429_with_retry_after(rates, client, researcher, path):
    for _ in range(3):
        assert client.post(path, {"username": "researcher", "password": "wrong"}).status_code == 200
    response = client.post(path, {"username": "researcher", "password": "pw-researcher-1"})
    _assert_throttled(response)
    assert b"Too many attempts" in response.content


def _join(client, **extra):
    return client.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "D"}, **extra}, format="json")


def test_api_join_answers_429_once_one_address_created_too_many_accounts(rates, study, django_user_model):
    client = _from("10.0.5.1")
    for _ in range(4):
        assert _join(client).status_code == 201
    accounts = django_user_model.objects.count()
    _assert_throttled(_join(client))
    assert django_user_model.objects.count() == accounts  # refused before any account is made
    assert _join(_from("10.0.5.2")).status_code == 201


def test_api_join_answers_429_once_one_crowd_id_was_tried_too_often(rates, study):
    assert _join(_from("10.0.6.1"), external_id="PID-1").status_code == 201
    assert _join(_from("10.0.6.2"), external_id="PID-1").status_code != 429
    _assert_throttled(_join(_from("10.0.6.3"), external_id="PID-1"))


def _profile_post(client, crowd_id: str = ""):
    client.get("/s/s1/" + (f"?PROLIFIC_PID={crowd_id}" if crowd_id else ""))
    client.post("/s/s1/", {"consent": "yes"})
    return client.post("/s/s1/profile/", {"party": "D"})


def test_the_join_pages_answer_429_once_one_address_created_too_many_accounts(rates, study):
    for _ in range(4):
        assert _profile_post(Client(REMOTE_ADDR="10.0.7.1")).status_code == 302
    _assert_throttled(_profile_post(Client(REMOTE_ADDR="10.0.7.1")))
    assert _profile_post(Client(REMOTE_ADDR="10.0.7.2")).status_code == 302


def test_the_join_pages_count_attempts_per_crowd_id(rates, study):
    assert _profile_post(Client(REMOTE_ADDR="10.0.8.1"), "PID-7").status_code == 302  # joins: 1 of 2
    # The id has joined: its link resumes that participant elsewhere, a use of the id as a credential.
    assert Client(REMOTE_ADDR="10.0.8.2").get("/s/s1/?PROLIFIC_PID=PID-7").status_code == 302
    _assert_throttled(Client(REMOTE_ADDR="10.0.8.3").get("/s/s1/?PROLIFIC_PID=PID-7"))
    assert _profile_post(Client(REMOTE_ADDR="10.0.8.4"), "PID-8").status_code == 302  # other ids unaffected


def test_the_annotation_loop_stays_open_for_a_participant_whose_address_is_throttled(rates, study):
    client = _from("10.0.9.1")
    token = _join(client).json()["token"]
    for n in range(6):
        _token_login(client, f"x{n}")
        _join(client)
    _assert_throttled(_token_login(client, "x9"))
    _assert_throttled(_join(client))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    submitted = 0
    while (task := client.post("/api/studies/s1/next/")).status_code == 200:
        assignment = task.json()["assignment_id"]
        body = {"assignment": assignment, "choice": "A", "client_id": f"c{assignment}"}
        submit = client.post("/api/judgments/", body, format="json")
        assert submit.status_code == 201
        submitted += 1
    assert task.status_code == 204 and submitted == 9  # every pair of the study, none refused


@pytest.mark.parametrize(
    ("current", "previous", "elapsed", "wait"),
    [
        (3, 0, 0.5, None),  # within the limit
        (1, 3, 0.01, 20),  # a burst just before the boundary still counts: 1 + 3 * 0.99 > 3, until f = 1/3
        (1, 3, 0.5, None),  # half of it has slid out: 1 + 1.5 <= 3
        (4, 0, 0.5, 45),  # over in this window alone: to its end, and (1 - 3/4) of the next
        (2, 4, 0.25, 30),  # this window is within: wait until 4 * (1 - f) <= 1, f = 0.75
    ],
)
def test_the_sliding_window_weighs_the_last_window_by_what_still_overlaps(current, previous, elapsed, wait):
    assert sliding_wait(3, 60, current, previous, elapsed) == wait


def test_a_burst_split_across_a_window_boundary_is_still_refused(rates, researcher, monkeypatch):
    import pluralweb.throttling as throttling

    clock = [6000.0 * 60 - 1.0]  # one second before a minute's boundary
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: clock[0]))
    for _ in range(3):
        assert _token_login(_from("10.0.6.1"), "researcher").status_code == 400
    clock[0] += 2.0  # the next fixed window
    _assert_throttled(_token_login(_from("10.0.6.2"), "researcher", "pw-researcher-1"))
