"""The quality page's figures on known-truth data, its downloads and empty state, and who may flag and
exclude."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotation.annotator_review import annotator_flag, annotator_set_excluded
from annotation.assignment import pair_next_for_annotator
from annotation.errors import Forbidden, InputError
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Judgment, Pair, Participant
from annotation.quality import study_annotator_quality
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db


def annotator(study, name, party="D"):
    return make_participant(study, get_user_model().objects.create_user(name), party=party)


def judge(participant, n, *, choice, time_ms, prefix):
    for i in range(n):
        task = pair_next_for_annotator(participant=participant)
        judgment_submit(user=participant.user, data=JudgmentInput(task.assignment_id, choice, f"{prefix}{i}",
                                                                  time_taken_ms=time_ms(i)))


def by_name(study):
    return {row.annotator: row for row in study_annotator_quality(study=study)}


def test_an_annotator_who_always_picks_a_has_position_bias_one_and_a_fast_clicker_is_below_min_judgment_ms():
    study = make_study(prompts=4, candidates=4, overlap=3, min_judgment_ms=1000)
    clicker, careful = annotator(study, "clicker"), annotator(study, "careful", party="R")
    judge(clicker, 10, choice="A", time_ms=lambda i: 100 * (i + 1), prefix="k")  # 100..1000 ms
    for i in range(10):
        task = pair_next_for_annotator(participant=careful)
        # Prefers the pair's own first candidate wherever it is shown: about half A, half B.
        choice = "A" if task.left.id == Pair.objects.get(pk=task.pair_id).candidate_a_id else "B"
        judgment_submit(user=careful.user, data=JudgmentInput(task.assignment_id, choice, f"c{i}",
                                                              time_taken_ms=4000 + i))
    rows = by_name(study)
    fast = rows["clicker"]
    assert fast.judgments == 10 and fast.position_bias == 1.0
    assert fast.fast_share == 0.9  # 100..900 ms are under 1000; 1000 is not
    assert fast.median_ms == pytest.approx(550) and fast.p10_ms == pytest.approx(190)
    slow = rows["careful"]
    a_shown = Judgment.objects.filter(participant=careful, choice="A").count()
    assert slow.position_bias == a_shown / 10 and slow.fast_share == 0.0
    assert slow.median_ms == pytest.approx(4004.5)


def test_agreement_is_split_into_own_group_and_other_groups_on_pairs_judged_by_others(admin_user):
    study = make_study(prompts=1, candidates=2, overlap=3)
    pair = Pair.objects.get()
    x, y = pair.candidate_a, pair.candidate_b
    d1, d2, r1 = annotator(study, "d1"), annotator(study, "d2"), annotator(study, "r1", party="R")
    now = timezone.now()
    for who, (left, right), choice in [(d1, (x, y), "A"), (d2, (y, x), "B"), (r1, (x, y), "B")]:
        # d1 and d2 prefer x (shown on different sides), r1 prefers y.
        Judgment.objects.create(participant=who, pair=pair, candidate_a=left, candidate_b=right, choice=choice,
                                group_key=who.group_key, client_id=f"agree-{who.pk}", created_at=now)
    rows = by_name(study)
    assert (rows["d1"].own_group_agreement, rows["d1"].own_group_n) == (1.0, 1)
    assert (rows["d1"].other_group_agreement, rows["d1"].other_group_n) == (0.0, 1)
    assert rows["r1"].own_group_agreement is None and rows["r1"].own_group_n == 0
    assert (rows["r1"].other_group_agreement, rows["r1"].other_group_n) == (0.0, 2)
    annotator_set_excluded(participant=d2, excluded=True, by=admin_user)
    assert by_name(study)["d1"].own_group_n == 0  # excluded annotators are not a yardstick


def test_gold_answers_give_accuracy_with_n_and_are_not_counted_as_judgments():
    lines = study_lines(gold_rate=1.0) + [
        {"gold": {"prompt_id": f"g{i}", "turns": [{"role": "user", "content": f"check {i}"}],
                  "candidates": [{"candidate_id": "y", "text": f"yes {i}"}, {"candidate_id": "n", "text": "no"}],
                  "a": "y", "b": "n", "expected": "A"}} for i in range(4)]
    study = study_import(jsonl_bytes(lines), source="g.jsonl").study
    ann = annotator(study, "g")
    for i in range(4):
        task = pair_next_for_annotator(participant=ann)
        right = "A" if task.left.text.startswith("yes") else "B"
        judgment_submit(user=ann.user, data=JudgmentInput(task.assignment_id, right if i else
                                                          ("B" if right == "A" else "A"), f"g{i}"))
    row = by_name(study)["g"]
    assert (row.gold_n, row.gold_accuracy, row.judgments) == (4, 0.75, 0)


def test_a_study_without_judgments_lists_its_annotators_with_empty_figures():
    study = make_study()
    annotator(study, "idle")
    (row,) = study_annotator_quality(study=study)
    assert (row.judgments, row.median_ms, row.gold_accuracy, row.position_bias, row.fast_share) == (
        0, None, None, None, None)


def test_researchers_flag_with_a_note_but_only_admins_exclude(researcher, admin_user):
    study = make_study()
    ann = annotator(study, "a1")
    with pytest.raises(InputError, match="say why"):
        annotator_flag(participant=ann, note="  ", by=researcher)
    annotator_flag(participant=ann, note="always presses A", by=researcher)
    ann.refresh_from_db()
    assert ann.flagged_at is not None and ann.flag_note == "always presses A"
    with pytest.raises(Forbidden):
        annotator_set_excluded(participant=ann, excluded=True, by=researcher)
    annotator_set_excluded(participant=ann, excluded=True, by=admin_user)
    ann.refresh_from_db()
    assert ann.excluded_at is not None


def test_an_excluded_annotator_gets_no_new_pairs_until_the_exclusion_is_lifted(admin_user):
    study = make_study()
    ann = annotator(study, "ex")
    annotator_set_excluded(participant=ann, excluded=True, by=admin_user)
    ann = Participant.objects.select_related("study").get(pk=ann.pk)
    assert pair_next_for_annotator(participant=ann) is None
    annotator_set_excluded(participant=ann, excluded=False, by=admin_user)
    ann = Participant.objects.select_related("study").get(pk=ann.pk)
    assert pair_next_for_annotator(participant=ann) is not None


def test_the_api_stops_an_excluded_annotator_at_once_despite_the_participant_cache(admin_user, api):
    make_study()
    token = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "D"}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/studies/s1/next/").status_code == 200  # caches the participant
    annotator_set_excluded(participant=Participant.objects.get(), excluded=True, by=admin_user)
    # The live lease is not handed back either: an excluded annotator's work does not count.
    assert api.post("/api/studies/s1/next/").status_code == 204


def test_the_quality_page_shows_the_figures_and_downloads_them_as_json_and_csv(researcher):
    study = make_study(min_judgment_ms=500)
    ann = annotator(study, "fast-one")
    judge(ann, 3, choice="A", time_ms=lambda i: 50, prefix="q")
    client = client_for(researcher)
    page = client.get("/studies/s1/quality/")
    html = page.content.decode()
    assert page.status_code == 200 and "fast-one" in html and 'id="quality-table"' in html
    assert "100%" in html  # too fast: all three
    data = client.get("/studies/s1/quality/?download=json").json()
    assert data["annotators"][0]["annotator"] == "fast-one" and data["annotators"][0]["position_bias"] == 1.0
    rows = list(csv.DictReader(io.StringIO(client.get("/studies/s1/quality/?download=csv").content.decode())))
    assert rows[0]["annotator"] == "fast-one" and rows[0]["fast_share"] == "1.0" and rows[0]["judgments"] == "3"
    assert client.get("/studies/s1/quality/?download=xml").status_code == 400


def test_the_quality_page_says_so_when_nobody_has_joined(researcher):
    make_study()
    html = client_for(researcher).get("/studies/s1/quality/").content.decode()
    assert 'id="quality-empty"' in html and "quality-table" not in html


def test_the_quality_page_is_for_researchers_only(client, stranger, annotator_d):
    assert client.get("/studies/s1/quality/").status_code == 302  # to sign in
    assert client_for(stranger).get("/studies/s1/quality/").status_code == 403
    assert client_for(stranger).post(f"/studies/s1/quality/{annotator_d.pk}/",
                                     {"action": "flag", "note": "x"}).status_code == 403


def test_the_page_forms_flag_and_exclude_and_a_researcher_cannot_exclude(researcher, admin_user, annotator_d):
    url = f"/studies/s1/quality/{annotator_d.pk}/"
    assert client_for(researcher).post(url, {"action": "flag", "note": "odd rationales"}).status_code == 302
    assert client_for(researcher).post(url, {"action": "exclude"}).status_code == 403
    admin = client_for(admin_user)
    assert admin.post(url, {"action": "exclude"}).status_code == 302
    annotator_d.refresh_from_db()
    assert annotator_d.flag_note == "odd rationales" and annotator_d.excluded_at is not None
    html = admin.get("/studies/s1/quality/").content.decode()
    assert "Lift exclusion" in html and "odd rationales" in html
    assert admin.post(url, {"action": "include"}).status_code == 302
    annotator_d.refresh_from_db()
    assert annotator_d.excluded_at is None
    assert admin.post(url, {"action": "delete"}).status_code == 400


def test_lifting_an_exclusion_keeps_the_time_of_the_change_for_the_dashboards(admin_user):
    study = make_study()
    ann = annotator(study, "t")
    before = timezone.now() - timedelta(seconds=1)
    annotator_set_excluded(participant=ann, excluded=True, by=admin_user)
    study.refresh_from_db()
    assert study.exclusions_changed_at >= before


def test_the_django_admin_excludes_and_lifts_through_the_service(admin_user, annotator_d, settings):
    from django.contrib.auth.models import Permission

    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    admin_user.user_permissions.add(*Permission.objects.filter(codename__in=["view_participant",
                                                                             "change_participant"]))
    client = client_for(admin_user)
    url = "/admin/annotation/participant/"
    response = client.post(url, {"action": "exclude_annotators", "_selected_action": [annotator_d.pk]})
    assert response.status_code == 302
    annotator_d.refresh_from_db()
    annotator_d.study.refresh_from_db()
    assert annotator_d.excluded_at is not None and annotator_d.study.exclusions_changed_at is not None
    client.post(url, {"action": "lift_exclusion", "_selected_action": [annotator_d.pk]})
    annotator_d.refresh_from_db()
    assert annotator_d.excluded_at is None


def test_django_system_checks_pass_with_the_review_admin():
    from django.core.management import call_command

    call_command("check", fail_level="ERROR")  # an admin action named like a ModelAdmin option fails here
