"""A token header that no token can match is refused as an invalid token, never a server error."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/studies/s1/next/"),  # the loop's cached lookup
    ("post", "/api/judgments/"),
    ("get", "/api/studies/"),  # DRF's own lookup, on every other view
    ("get", "/api/studies/s1/"),
])
@pytest.mark.parametrize("key", ["abc\x00def", "é" * 10, "x" * 41, "a\tb"])
def test_a_malformed_token_is_refused_as_invalid(api, study, method, path, key):
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = getattr(api, method)(path)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("Invalid token")
