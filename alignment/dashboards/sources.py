"""What a study's dashboards are computed from, as a small marker that changes whenever their numbers can.

A snapshot records the marker it was computed from; while the study's marker stays the same, the
snapshot's numbers are current whatever their age, and beat does not recompute them. The marker is a
handful of aggregates over indexed columns (milliseconds on a small study, tenths of a second on a
million judgments), against seconds for the dashboards themselves.

What changes the numbers without a new judgment is covered too:
- exclusions and their lifting: `judgments` counts the judgments that count (annotation/counted_judgments.py),
  and the study row below carries `exclusions_changed_at`;
- study settings (overlap, group attributes, any counting option such as how ties count): the
  fingerprint of the study row covers every column, so a setting added later invalidates as well;
- gold items, new pairs, candidates, participants and leases (the progress page's lease counts);
- the code: COUNTING_RULES_VERSION, bumped when what counts or how reports count changes.
"""

import hashlib
import json

from django.db.models import Count, Max, Q

from annotation.counted_judgments import judgments_that_count
from annotation.models import Assignment, Candidate, GoldItem, Pair, Participant, Study

# Bump when counting or the reports' numbers change in code (a snapshot computed by older code is stale).
COUNTING_RULES_VERSION = 2


def study_fingerprint(study: Study) -> str:
    """A digest of every column of the study row: any settings change (today's or one added later) changes it."""
    values = {field.attname: getattr(study, field.attname) for field in study._meta.concrete_fields}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _count_and_last(queryset, **extra) -> list:
    row = queryset.aggregate(n=Count("id"), last=Max("id"), **extra)
    return [row[name] for name in ("n", "last", *extra)]


def study_marker(study: Study) -> dict:
    """The study's change marker (a JSON-able dict): equal markers mean equal dashboard numbers."""
    return {
        "rules": COUNTING_RULES_VERSION,
        "study": study_fingerprint(study),
        "judgments": _count_and_last(judgments_that_count(study=study)),
        "gold": _count_and_last(GoldItem.objects.filter(study_id=study.pk)),
        "pairs": _count_and_last(Pair.objects.filter(prompt__study_id=study.pk)),
        "candidates": _count_and_last(Candidate.objects.filter(prompt__study_id=study.pk)),
        "participants": _count_and_last(Participant.objects.filter(study_id=study.pk)),
        # Leases move from active to judged (a new judgment), expired or skipped without a new row.
        "assignments": _count_and_last(Assignment.objects.filter(participant__study_id=study.pk),
                                       active=Count("id", filter=Q(status=Assignment.Status.ACTIVE))),
    }
