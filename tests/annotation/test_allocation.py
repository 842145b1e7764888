"""Adaptive allocation through the real loop (`next`, submit): slots up to k_max, priorities, early stops, and
the per-(pair, group) counts that submit keeps (PostgreSQL in CI, SQLite locally)."""

import itertools
import uuid
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command

from annotation.allocation import pair_group_counts_rebuild, study_group_keys
from annotation.allocation_rule import GroupCount, gain
from annotation.assignment import pair_next_for_annotator
from annotation.errors import InputError
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Judgment, Pair, PairGroupCount, Slot
from tests.factories import jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db


def _adaptive(**kwargs):
    return make_study(allocation="adaptive", **kwargs)


def _annotators(study, django_user_model, n: int, groups: str = "DR"):
    return [make_participant(study, django_user_model.objects.create_user(f"u{study.slug}{i}"), party=groups[i % 2])
            for i in range(n)]


def _judge(participant, choice: str = "A") -> Judgment | None:
    task = pair_next_for_annotator(participant=participant)
    if task is None:
        return None
    data = JudgmentInput(assignment_id=task.assignment_id, choice=choice, client_id=uuid.uuid4().hex)
    return judgment_submit(user=participant.user, data=data).judgment


def _counts_by_group_by() -> dict:
    """The count table's rule written a second time, over Judgment rows in Python."""
    out: dict = defaultdict(lambda: [0, 0.0])
    for j in Judgment.objects.select_related("pair"):
        if j.choice == Judgment.Choice.BOTH_BAD:
            continue
        row = out[(j.pair_id, j.group_key)]
        row[0] += 1
        if j.choice == Judgment.Choice.TIE:
            row[1] += 0.5
        elif (j.choice == "A") == (j.candidate_a_id == j.pair.candidate_a_id):
            row[1] += 1
    return {key: (n, wins) for key, (n, wins) in out.items()}


def _counts_table() -> dict:
    return {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.filter(n__gt=0)}


def test_an_adaptive_pair_is_made_with_k_max_slots_split_like_k_and_a_zero_count_per_group():
    study = _adaptive(prompts=2, candidates=3, overlap=2, k_max=6)
    pairs = Pair.objects.filter(prompt__study=study)
    assert pairs.count() == 6
    for pair in pairs:
        assert Counter(Slot.objects.filter(pair=pair).values_list("group_key", flat=True)) == {
            "party=D": 3, "party=R": 3}
        assert sorted(PairGroupCount.objects.filter(pair=pair).values_list("group_key", "n")) == [
            ("party=D", 0), ("party=R", 0)]
    assert Slot.objects.filter(study=study, priority__lte=1).count() == 0


def test_a_uniform_study_keeps_k_slots_and_no_priorities():
    study = make_study(prompts=1, candidates=3, overlap=3)
    assert Slot.objects.filter(study=study).count() == 3 * 3
    assert set(Slot.objects.filter(study=study).values_list("priority", flat=True)) == {0.0}
    assert not PairGroupCount.objects.exists()


@pytest.mark.parametrize("allocation", ["uniform", "adaptive"])
def test_the_counts_equal_a_group_by_over_the_judgments_after_a_mixed_run(django_user_model, allocation):
    study = make_study(slug=f"mix-{allocation}", prompts=3, candidates=3, overlap=4, allocation=allocation,
                       precision=0.05)
    choices = itertools.cycle(["A", "B", "tie", "both_bad", "B", "A", "A"])
    for participant in _annotators(study, django_user_model, 6):
        while (task := pair_next_for_annotator(participant=participant)) is not None:
            data = JudgmentInput(assignment_id=task.assignment_id, choice=next(choices), client_id=uuid.uuid4().hex)
            judgment_submit(user=participant.user, data=data)
            assert not judgment_submit(user=participant.user, data=data).created  # a replay counts nothing
    assert Judgment.objects.count() > 20
    assert _counts_table() == _counts_by_group_by()
    pair_group_counts_rebuild(study=study)
    assert _counts_table() == _counts_by_group_by()


def test_imported_judgments_are_counted(django_user_model):
    from annotation.judgment_files import judgments_import

    study = make_study(slug="imp", prompts=1, candidates=2, overlap=3)
    lines = [{"prompt_id": "p0", "a": "p0c1", "b": "p0c0", "choice": choice,
              "annotator_id": f"x{i}", "attributes": {"party": "DR"[i % 2]}}
             for i, choice in enumerate(["A", "B", "tie", "A"])]
    judgments_import(study=study, stream=jsonl_bytes(lines), source="j.jsonl")
    assert Judgment.objects.count() == 4
    assert _counts_table() == _counts_by_group_by()
    assert PairGroupCount.objects.get(group_key="party=D").wins == pytest.approx(0.5)  # B's side, then a tie


def test_a_pair_that_becomes_precise_stops_being_served_before_k(django_user_model):
    study = _adaptive(slug="precise", prompts=1, candidates=2, overlap=3, k_min=1, precision=0.5)
    d1, r1, d2, r2 = _annotators(study, django_user_model, 4, groups="DRDR")[:4]
    assert _judge(d1) is not None
    assert _judge(r1) is not None
    # One judgment per group narrows every |p_g - p_h| below 0.5: the pair stops at 2 of k = 3.
    assert _judge(d2) is None and _judge(r2) is None
    statuses = Counter(Slot.objects.filter(study=study).values_list("status", flat=True))
    assert statuses == {"done": 2, "closed": 7}


def test_an_uncertain_pair_goes_past_k_up_to_k_max_and_never_further(django_user_model):
    study = _adaptive(slug="split", prompts=1, candidates=2, overlap=2, k_max=6, precision=0.01)
    annotators = _annotators(study, django_user_model, 10)
    served = [p for p in annotators if _judge(p, choice="A" if p.group_key == "party=D" else "B") is not None]
    assert len(served) == 6
    assert Counter(Judgment.objects.values_list("group_key", flat=True)) == {"party=D": 3, "party=R": 3}
    assert set(Slot.objects.filter(study=study).values_list("status", flat=True)) == {"done"}


def test_next_serves_the_largest_priority_first(django_user_model):
    study = _adaptive(slug="order", prompts=3, candidates=3, overlap=2)
    last = Pair.objects.filter(prompt__study=study).order_by("-id").first()
    Slot.objects.filter(pair=last).update(priority=1.9)
    (participant,) = _annotators(study, django_user_model, 1)
    assert pair_next_for_annotator(participant=participant).pair_id == last.pk


def test_stored_priorities_are_one_plus_the_rules_gain(django_user_model):
    # On PostgreSQL the submit function prices the slots: the rule written in SQL against the one in Python.
    study = _adaptive(slug="price", prompts=2, candidates=3, overlap=3, precision=0.01,
                      group_attributes={"region": ["N", "S", "W"]})
    participants = [make_participant(study, django_user_model.objects.create_user(f"pr{i}"), party=None,
                                     region="NSW"[i % 3]) for i in range(7)]
    for i, participant in enumerate(participants):
        for _ in range(3):
            _judge(participant, choice=["A", "B", "tie"][i % 3])
    keys = study_group_keys(study)
    checked = 0
    for slot in Slot.objects.filter(study=study, status="open"):
        rows = {c.group_key: GroupCount(c.n, c.wins) for c in PairGroupCount.objects.filter(pair_id=slot.pair_id)}
        counts = [rows[key] for key in keys]
        expected = gain(counts, keys.index(slot.group_key))
        assert slot.priority == pytest.approx(1 + expected, rel=1e-9, abs=1e-12)
        checked += 1
    assert checked > 10


@pytest.mark.parametrize(("setting", "value", "field"), [
    ("allocation", "greedy", "study.allocation"),
    ("k_min", 0, "study.k_min"),
    ("k_max", 2, "study.k_max"),
    ("precision", 1, "study.precision"),
    ("precision", 0, "study.precision"),
    ("precision", "0.1", "study.precision"),
])
def test_a_study_file_with_a_bad_allocation_setting_is_refused_naming_the_field(setting, value, field):
    from annotation.study_files import study_import

    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(study_lines(slug="bad", overlap=3, **{setting: value})), source="s.jsonl")
    assert caught.value.field == field


def test_the_rebuild_command_recounts_a_study(django_user_model):
    study = _adaptive(slug="cmd", prompts=1, candidates=3, overlap=2)
    for participant in _annotators(study, django_user_model, 2):
        _judge(participant)
    PairGroupCount.objects.all().delete()
    call_command("rebuild_pair_counts", "cmd")
    assert _counts_table() == _counts_by_group_by()
    assert PairGroupCount.objects.filter(n=0).exists()  # every group of every open pair, for the rule


def test_gold_items_are_served_and_answered_under_adaptive_allocation(django_user_model):
    from tests.annotation.test_gold import gold_study

    study = gold_study(slug="gold-adaptive", gold_rate=1.0, allocation="adaptive").study
    (participant,) = _annotators(study, django_user_model, 1)
    served = [_judge(participant) for _ in range(4)]
    gold_pairs = set(Pair.objects.filter(strategy="gold").values_list("id", flat=True))
    assert {j.pair_id for j in served[:2]} == gold_pairs  # both gold items first, at gold_rate 1
    assert served[2].pair_id not in gold_pairs  # then ordinary pairs, by priority
    assert not Slot.objects.filter(pair_id__in=gold_pairs, priority__gt=0).exists()  # outside the allocation
    assert _counts_table() == _counts_by_group_by()


def _admin_form(study, **changes):
    from django.forms.models import model_to_dict

    from annotation.admin import StudyAdminForm

    data = {k: v for k, v in model_to_dict(study).items() if v is not None}
    data.update(group_attributes='{"party": ["D", "R"]}', attribute_labels="{}", practice="[]", **changes)
    return StudyAdminForm(data=data, instance=study)


def test_the_admin_validates_the_allocation_settings_naming_the_field():
    study = make_study(slug="adm", prompts=1, candidates=2, overlap=3)
    assert _admin_form(study).is_valid(), _admin_form(study).errors
    assert "k_max" in _admin_form(study, k_max=2).errors
    assert "precision" in _admin_form(study, precision=1.0).errors
    assert "k_min" in _admin_form(study, k_min=0).errors
    # The study has pairs, made with k slots: switching them to adaptive would leave them short of k_max.
    assert "allocation" in _admin_form(study, allocation="adaptive").errors
