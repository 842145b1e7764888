"""The completion code is shown only for finished work: at quota, or when nothing is left to judge."""

from annotation.models import Study
from tests.factories import make_study


def _joined(client, slug: str) -> None:
    client.get(f"/s/{slug}/?PROLIFIC_PID=PID-{slug}")
    client.post(f"/s/{slug}/", {"consent": "yes"})
    assert client.post(f"/s/{slug}/profile/", {"party": "D"}).status_code == 302


def _judge_next(client, slug: str) -> None:
    page = client.get(f"/s/{slug}/annotate/").content.decode()
    fields = {name: page.split(f'name="{name}" value="')[1].split('"')[0] for name in ("assignment", "client_id")}
    client.post(f"/s/{slug}/judge/", {**fields, "choice": "A"})


def test_the_completion_page_right_after_the_profile_shows_no_code(client, db):
    make_study(slug="c1", quota=2)
    _joined(client, "c1")
    response = client.get("/s/c1/done/")
    assert response.status_code == 302 and response["Location"] == "/s/c1/annotate/"
    assert b"CODE-1" not in client.get("/s/c1/done/", follow=True).content


def test_the_completion_page_shows_no_code_below_quota_while_pairs_remain(client, db):
    make_study(slug="c2", quota=2)
    _joined(client, "c2")
    _judge_next(client, "c2")
    assert client.get("/s/c2/done/").status_code == 302


def test_the_completion_page_shows_the_code_at_quota(client, db):
    make_study(slug="c3", quota=2)
    _joined(client, "c3")
    _judge_next(client, "c3")
    _judge_next(client, "c3")
    done = client.get("/s/c3/done/")
    assert done.status_code == 200 and b"CODE-1" in done.content


def test_the_completion_page_shows_the_code_when_nothing_is_left_for_the_annotator(client, db):
    make_study(slug="c4", prompts=1, candidates=2, quota=20)  # one pair
    _joined(client, "c4")
    _judge_next(client, "c4")
    done = client.get("/s/c4/done/")
    assert done.status_code == 200 and b"CODE-1" in done.content and b"nothing left" in done.content


def test_a_closed_study_with_no_live_lease_has_nothing_left_so_the_code_shows(client, db):
    make_study(slug="c5", quota=2)
    _joined(client, "c5")
    Study.objects.filter(slug="c5").update(is_open=False)
    assert client.get("/s/c5/done/").status_code == 200
