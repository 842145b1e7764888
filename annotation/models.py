"""The nouns of annotation (DESIGN.md section 3): studies, prompts, candidates, participants,
pairs, their slots, assignments (leases) and judgments."""

from django.conf import settings
from django.db import models
from django.db.models import Q

SET_SIZE_MIN, SET_SIZE_MAX = 3, 6
MAX_TURNS_MAX = 8  # live conversations: user turns per conversation (Community Alignment: 4)


class Study(models.Model):
    class PairStrategy(models.TextChoices):
        ALL = "all", "All pairs"
        RANDOM = "random", "Random pairs"
        NC = "nc", "Negatively-correlated pairs"

    class Ties(models.TextChoices):
        HALF = "half", "Ties count half"
        DROP = "drop", "Ties left out"

    class Allocation(models.TextChoices):
        UNIFORM = "uniform", "Uniform: k judgments per pair"
        ADAPTIVE = "adaptive", "Adaptive: judgments where groups' divergence is uncertain"
    class Task(models.TextChoices):
        PAIR = "pair", "Pairs"
        SET = "set", "Sets (best of k)"
        CONVERSATION = "conversation", "Live conversations (best of set_size per turn)"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # {"party": ["D", "R"], "country": ["US", "FR"]}: a participant's group is one value of each.
    group_attributes = models.JSONField(default=dict)
    overlap = models.PositiveSmallIntegerField(default=3, help_text="Judgments wanted per pair (k).")
    quota = models.PositiveIntegerField(default=20, help_text="Judgments per participant.")
    consent = models.TextField()
    completion_code = models.CharField(max_length=64, blank=True)
    completion_url = models.URLField(blank=True, help_text="Redirect after completion (e.g. Prolific).")
    language = models.CharField(max_length=8, default="en", choices=settings.LANGUAGES)
    pair_strategy = models.CharField(max_length=16, choices=PairStrategy.choices, default=PairStrategy.NC)
    pairs_per_prompt = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Pairs made per prompt by the random/nc strategies (empty: one fewer than the candidates).",
    )
    lease_minutes = models.PositiveSmallIntegerField(default=10)
    open_slots_after = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Minutes after which a pair's slots kept for one group open to any group (empty: strict balance).",
    )
    refit_every = models.PositiveIntegerField(
        null=True, blank=True, help_text="Launch a PAL refit once this many new judgments arrived (empty: never)."
    )
    is_open = models.BooleanField(default=True, help_text="Closed studies accept no new participants or tasks.")
    # crowd: annotator-facing settings (issue 10).
    min_view_ms = models.PositiveIntegerField(
        default=0, help_text="A choice is refused until the pair has been on screen this long (0: off)."
    )
    instructions = models.TextField(blank=True, help_text="Markdown, shown in a panel on the annotate page.")
    # {"party": {"D": "Democrat"}}: how the profile page names attribute values (the values stay the keys).
    attribute_labels = models.JSONField(default=dict, blank=True)
    # [{"prompt", "a", "b", "expected", "feedback"}]: practice pairs shown before the first task, never stored.
    practice = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # --- quality: attention checks (gold items), screening, fast-judgment threshold ---
    gold_rate = models.FloatField(default=0.0, help_text="Share of served pairs that are gold items (0 to 1).")
    min_judgment_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Judgments faster than this count as too fast on the quality page."
    )
    screened_out_code = models.CharField(max_length=64, blank=True, help_text="Code for screened-out participants.")
    screened_out_url = models.URLField(blank=True, help_text="Redirect for screened-out participants ({code}).")
    screen_min_gold = models.PositiveSmallIntegerField(
        default=3, help_text="Gold answers needed before a participant can be screened out."
    )
    screen_min_accuracy = models.FloatField(
        default=0.5, help_text="Screened out when gold accuracy falls below this (after screen_min_gold answers)."
    )
    # Which judgments count: ties half a vote each way (default) or left out of every analysis (issue 11).
    # One rule, in annotation/counted_judgments.py; ties stay stored and exported either way.
    ties = models.CharField(
        max_length=8, choices=Ties.choices, default=Ties.HALF,
        help_text="Ties count half to each side in dashboards, leaderboards and refits, or are left out of them "
                  "(still stored and exported).",
    )
    # --- allocation: how a pair's judgments are spent (issue 14; annotation/allocation_rule.py) ---
    allocation = models.CharField(
        max_length=8, choices=Allocation.choices, default=Allocation.UNIFORM,
        help_text="uniform: every pair gets k judgments, lowest pair first. adaptive: the next annotator of a group "
                  "gets the pair where one more judgment of theirs narrows the groups' divergence most; a pair stops "
                  "once it is precise, and gets at most k_max.",
    )
    k_min = models.PositiveSmallIntegerField(
        default=2, help_text="Adaptive: judgments per group before a pair may stop for being precise."
    )
    k_max = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Adaptive: most judgments of a pair, split across groups like k (empty: 3k)."
    )
    precision = models.FloatField(
        default=0.1, help_text="Adaptive: a pair stops once the posterior sd of every |p_g - p_h| is below this."
    )
    # --- end allocation ---
    # issue 13: a task is one pair (today's) or one set of `set_size` candidates, best picked, the rest optionally
    # ranked; a set judgment is stored once and expands into pairwise judgments (annotation/set_expansion.py).
    task = models.CharField(
        max_length=16, choices=Task.choices, default=Task.PAIR,
        help_text="What an annotator judges: a pair (A or B), a set (best of set_size, the rest optionally ranked), "
                  "or a live conversation (a set generated per turn, the best continues the conversation).",
    )
    set_size = models.PositiveSmallIntegerField(
        default=4, help_text=f"Candidates per set in set studies ({SET_SIZE_MIN} to {SET_SIZE_MAX})."
    )
    sets_per_prompt = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Set studies: sets made per prompt by the random/nc strategies (empty: enough to show every "
                  "candidate once, candidates / set_size rounded up).",
    )
    # Live conversations (task "conversation", annotation/conversations.py): user turns per conversation, and the
    # share of conversations whose first prompt the annotator writes (Community Alignment: about a third).
    max_turns = models.PositiveSmallIntegerField(
        default=4, help_text=f"Conversation studies: user turns per conversation (1 to {MAX_TURNS_MAX})."
    )
    written_prompt_share = models.FloatField(
        default=0.33, help_text="Conversation studies: share of conversations whose first prompt the annotator "
                                "writes (0 to 1); every one when the study has no prompts.",
    )
    # Dashboard snapshots older than this are stale: an exclusion (or the tie rule) changed which judgments count.
    exclusions_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # --- end quality ---

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="study_overlap_positive"),
            models.CheckConstraint(condition=Q(quota__gte=1), name="study_quota_positive"),
            models.CheckConstraint(condition=Q(k_min__gte=1), name="study_k_min_positive"),
            models.CheckConstraint(condition=Q(k_max__isnull=True) | Q(k_max__gte=models.F("overlap")),
                                   name="study_k_max_at_least_k"),
            models.CheckConstraint(condition=Q(precision__gt=0) & Q(precision__lt=1), name="study_precision_range"),
            models.CheckConstraint(
                condition=Q(set_size__gte=SET_SIZE_MIN, set_size__lte=SET_SIZE_MAX), name="study_set_size_range"
            ),
            models.CheckConstraint(condition=Q(task__in=["pair", "set", "conversation"]), name="study_task_valid"),
            models.CheckConstraint(condition=Q(max_turns__gte=1, max_turns__lte=MAX_TURNS_MAX),
                                   name="study_max_turns_range"),
            models.CheckConstraint(condition=Q(written_prompt_share__gte=0, written_prompt_share__lte=1),
                                   name="study_written_prompt_share_range"),
            # Adaptive allocation prices pairs by their groups' divergence: set studies are uniform.
            models.CheckConstraint(condition=~Q(task="set", allocation="adaptive"), name="study_set_uniform"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def slots_per_pair(self) -> int:
        """k under uniform allocation; k_max (default 3k) under adaptive, where precise pairs stop early."""
        if self.allocation == Study.Allocation.ADAPTIVE:
            return self.k_max or 3 * self.overlap
        return self.overlap


class Prompt(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=128, help_text="prompt_id in study files")
    turns = models.JSONField(help_text='[{"role": "user"|"assistant", "content": "..."}]')
    tags = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "external_id"], name="prompt_unique_id")]

    def __str__(self) -> str:
        return self.external_id


class Candidate(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    external_id = models.CharField(max_length=128, help_text="candidate_id in study files")
    text = models.TextField()
    source = models.CharField(max_length=200, blank=True, help_text="Model or dataset it came from.")
    strategy = models.CharField(max_length=64, blank=True, help_text="How it was generated.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prompt", "external_id"], name="candidate_unique_id")]

    def __str__(self) -> str:
        return self.external_id


class Participant(models.Model):
    """An annotator's per-study profile. Imported annotators have no login (user is empty)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="participations"
    )
    external_id = models.CharField(max_length=128, help_text="Annotator id: crowd platform id or imported id.")
    attributes = models.JSONField(default=dict)
    group_key = models.CharField(max_length=255, db_index=True, help_text="Canonical group: attr=value|...")
    crowd_params = models.JSONField(default=dict, blank=True, help_text="Crowd ids from the join link.")
    consented_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # --- quality: review state; exclusion hides judgments from every consumer, never deletes them ---
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_note = models.TextField(blank=True)
    excluded_at = models.DateTimeField(null=True, blank=True)
    screened_out_at = models.DateTimeField(null=True, blank=True, help_text="Failed the attention checks.")
    # --- end quality ---

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "external_id"], name="participant_unique_external_id"),
            models.UniqueConstraint(
                fields=["study", "user"], condition=Q(user__isnull=False), name="participant_unique_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.group_key})"


class Pair(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="pairs")
    candidate_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    candidate_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(max_length=32, help_text="all, random, nc or imported")
    diversity = models.FloatField(null=True, blank=True, help_text="1 - cosine similarity of the two texts")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate_a", "candidate_b"], name="pair_unique_candidates"),
            models.CheckConstraint(condition=~Q(candidate_a=models.F("candidate_b")), name="pair_distinct"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id}:{self.candidate_a_id}-{self.candidate_b_id}"


class Slot(models.Model):
    """One of a pair's k wanted judgments (DESIGN.md 3, balanced assignment).

    A slot tagged with a group is for that group only; an open slot (group_key "") takes any group,
    and records the group holding it in `open_group` so that the partial unique constraint caps
    every group at one open slot per pair, i.e. at ceil(k / G) judgments of the pair.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        LEASED = "leased"
        DONE = "done"
        CLOSED = "closed"  # adaptive allocation: the pair became precise before this slot was needed

    # No single-column indexes on the foreign keys: `next` finds slots through the claimable index and
    # the per-group cap through the open-group one, and every index is rewritten on each lease and
    # judgment (status sits in an index predicate, so the updates are never HOT). Without them the
    # planner also cannot walk the pair index past every done slot.
    # A slot is of a pair (pair studies) or of a candidate set (set studies, issue 13), never both: one slot and
    # assignment machinery, so assignment ids stay one namespace for renew and skip.
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.CASCADE, related_name="slots",
                             db_index=False)
    candidate_set = models.ForeignKey(
        "CandidateSet", null=True, blank=True, on_delete=models.CASCADE, related_name="slots", db_index=False
    )
    study = models.ForeignKey(  # denormalised for `next`
        Study, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group_key = models.CharField(max_length=255, blank=True)
    open_group = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Adaptive allocation only: 1 + the expected narrowing of the pair's group divergence from one more
    # judgment by the slot's group (annotation/allocation.py). 0 under uniform, which keeps uniform slots
    # out of the priority index below, so uniform writes no more index entries than before.
    priority = models.FloatField(default=0.0, db_default=0.0)  # raw INSERTs (gold_next) name no priority

    class Meta:
        indexes = [
            models.Index(
                fields=["study", "-priority", "pair", "-group_key", "id"],
                condition=Q(status__in=["open", "leased"], priority__gt=0),
                name="slot_claimable_priority_idx",
            ),
            # Only claimable slots, in the order `next` takes them: the index stays small however many
            # slots are done, and it serves the ORDER BY whole, so the planner never prefers walking the
            # pair index over every done slot (as it did while the statistics still said "all open").
            models.Index(
                fields=["study", "pair", "-group_key", "id"], condition=Q(status__in=["open", "leased"]),
                name="slot_claimable_order_idx",
            ),
            # The same for set slots (annotation/set_assignment.py); pair slots stay out of it.
            models.Index(
                fields=["study", "candidate_set", "-group_key", "id"],
                condition=Q(status__in=["open", "leased"], candidate_set__isnull=False),
                name="slot_set_claimable_order_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "open_group"], condition=~Q(open_group=""), name="slot_one_open_per_group"
            ),
            models.UniqueConstraint(
                fields=["candidate_set", "open_group"], condition=~Q(open_group="") & Q(candidate_set__isnull=False),
                name="slot_set_one_open_per_group",
            ),
            models.CheckConstraint(
                condition=Q(pair__isnull=False, candidate_set__isnull=True)
                | Q(pair__isnull=True, candidate_set__isnull=False),
                name="slot_pair_or_set",
            ),
            models.CheckConstraint(
                condition=Q(status="leased", lease_expires_at__isnull=False) | ~Q(status="leased"),
                name="slot_lease_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        task = f"pair {self.pair_id}" if self.pair_id is not None else f"set {self.candidate_set_id}"
        return f"slot {self.pk} of {task} ({self.group_key or 'open'}, {self.status})"


class PairGroupCount(models.Model):
    """Each group's preference judgments of a pair (A, B or tie; both_bad carries no preference), written by
    submit in its own transaction: what adaptive allocation reads, and a GROUP BY the dashboards need not redo.

    `wins` counts for the pair's candidate A (whatever side it was shown on), a tie half. Raw data: gold
    answers and excluded annotators are in it, the study's tie rule is not applied. Imports rebuild it
    (annotation/allocation.py pair_group_counts_rebuild)."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="+", db_index=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    group_key = models.CharField(max_length=255)
    n = models.PositiveIntegerField(default=0)
    wins = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pair", "group_key"], name="pair_group_count_unique")]

    def __str__(self) -> str:
        return f"pair {self.pair_id} {self.group_key}: {self.wins}/{self.n}"


class Assignment(models.Model):
    """A slot leased to a participant. Expired leases stay as history (lease/expiry counts)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        JUDGED = "judged"
        EXPIRED = "expired"
        SKIPPED = "skipped"  # crowd: the annotator could not judge the pair (see Skip)

    # slot and participant need no index of their own: assignment_one_per_slot and
    # assignment_participant_idx lead with them (fewer indexes to write on every lease).
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments")
    # Set studies: the set leased, and its members in the order shown (random per participant, kept for one who
    # held the set before, as `swapped` is for pairs). No index of its own: assignment_set_once leads with
    # participant, and nothing looks assignments up by set alone.
    candidate_set = models.ForeignKey(
        "CandidateSet", null=True, blank=True, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    swapped = models.BooleanField(default=False, help_text="Shown as (b, a): position bias is randomised.")
    shown = models.JSONField(null=True, blank=True, help_text="Set assignments: candidate ids in the order shown.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["participant", "status"], name="assignment_participant_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="assignment_lease"),
            # One live lease per slot, and never the same pair twice to one participant.
            models.UniqueConstraint(fields=["slot"], condition=Q(status="active"), name="assignment_one_per_slot"),
            models.UniqueConstraint(
                fields=["participant", "pair"], condition=~Q(status="expired"), name="assignment_pair_once"
            ),
            models.UniqueConstraint(
                fields=["participant", "candidate_set"], name="assignment_set_once",
                condition=~Q(status="expired") & Q(candidate_set__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(pair__isnull=False, candidate_set__isnull=True)
                | Q(pair__isnull=True, candidate_set__isnull=False, shown__isnull=False),
                name="assignment_pair_or_set",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Judgment(models.Model):
    class Choice(models.TextChoices):
        A = "A"
        B = "B"
        TIE = "tie"
        BOTH_BAD = "both_bad"

    class Strength(models.TextChoices):
        SLIGHTLY = "slightly"
        CLEARLY = "clearly"

    class Origin(models.TextChoices):
        WEB = "web", "Annotated here"
        IMPORT = "import", "Imported pairwise judgment"
        RATINGS = "ratings", "Derived from imported ratings"
        SET = "set", "Derived from a set judgment"

    # Covered by judgment_once_per_pair (participant, pair) and judgment_pair_group_idx (pair, group_key).
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgment"
    )
    # As shown: `choice` refers to these two, whatever the pair's own order.
    candidate_a = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    candidate_b = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    strength = models.CharField(max_length=8, choices=Strength.choices, blank=True)
    rationale = models.TextField(blank=True)
    rating_a = models.FloatField(null=True, blank=True, help_text="Set when derived from ratings.")
    rating_b = models.FloatField(null=True, blank=True)
    group_key = models.CharField(max_length=255, db_index=True)
    time_taken_ms = models.PositiveIntegerField(null=True, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.WEB)
    # origin "set": the set judgment this comparison was expanded from (annotation/set_expansion.py), and
    # whether it was read off the ranking rather than the best pick.
    set_judgment = models.ForeignKey(
        "SetJudgment", null=True, blank=True, on_delete=models.CASCADE, related_name="comparisons"
    )
    implied = models.BooleanField(
        default=False, db_default=False, help_text="Read off a set judgment's ranking, not its best pick."
    )
    client_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["pair", "group_key"], name="judgment_pair_group_idx")]
        constraints = [
            models.UniqueConstraint(fields=["participant", "pair"], name="judgment_once_per_pair"),
            models.CheckConstraint(condition=Q(choice__in=["A", "B", "tie", "both_bad"]), name="judgment_choice"),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk}: {self.choice}"


class Skip(models.Model):
    """crowd: a pair (or, in a set study, a set) an annotator said they cannot judge. Its slot went back to the
    pool; it is not served to them again (their assignment stays `skipped`); a skip is not a judgment."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="skips")
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.CASCADE, related_name="skips")
    candidate_set = models.ForeignKey(
        "CandidateSet", null=True, blank=True, on_delete=models.CASCADE, related_name="skips"
    )
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="skip")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pair__isnull=False, candidate_set__isnull=True)
                | Q(pair__isnull=True, candidate_set__isnull=False),
                name="skip_pair_or_set",
            ),
        ]

    def __str__(self) -> str:
        task = f"pair {self.pair_id}" if self.pair_id is not None else f"set {self.candidate_set_id}"
        return f"skip of {task} by {self.participant_id}"


class Rating(models.Model):
    """An imported absolute rating; pairwise judgments are derived from them and keep them."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ratings")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="ratings")
    rating = models.FloatField()
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "candidate"], name="rating_once_per_candidate")
        ]

    def __str__(self) -> str:
        return f"rating {self.rating} of candidate {self.candidate_id}"


class GoldItem(models.Model):
    """An attention check: a pair (pair studies) or a candidate set (set studies) with an expected answer, served
    at the study's gold_rate.

    Its pair or set (strategy "gold") has no slots of its own: each time it is served, annotation/gold_serving.py
    adds a slot that is born done, so the slot machinery (k, group balance, lease expiry) never sees it. For a set,
    `expected` is the right best.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="gold_items")
    pair = models.OneToOneField(Pair, on_delete=models.CASCADE, related_name="gold", null=True, blank=True)
    candidate_set = models.OneToOneField("CandidateSet", on_delete=models.CASCADE, related_name="gold", null=True,
                                         blank=True)
    expected = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+", help_text="The right answer.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pair__isnull=False, candidate_set__isnull=True)
                | Q(pair__isnull=True, candidate_set__isnull=False),
                name="golditem_pair_xor_set",
            ),
        ]

    def __str__(self) -> str:
        task = f"pair {self.pair_id}" if self.pair_id is not None else f"set {self.candidate_set_id}"
        return f"gold item {self.pk} ({task})"


class PairingJob(models.Model):
    """Embedding the candidate texts of one import's prompts, then making their pairs (with slots), on the
    `embeddings` queue. This row is the truth about the job: pages and the API read it, never Celery's result.
    A study with a job that has not succeeded is *preparing*: its annotators are told to come back, not
    handed a completion code for work that does not exist yet."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pairing_jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    prompt_ids = models.JSONField(default=list, help_text="The prompts whose pairs this job makes.")
    texts_total = models.PositiveIntegerField(default=0, help_text="Distinct candidate texts to embed.")
    texts_done = models.PositiveIntegerField(default=0, help_text="Of those, the ones in the embedding cache.")
    pairs_made = models.PositiveIntegerField(default=0)
    sets_made = models.PositiveIntegerField(default=0, help_text="In a set study: candidate sets made.")
    notes = models.TextField(blank=True, help_text="What the job left out and why (prompts too small for a set).")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When its message last reached the broker.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["study", "status"], name="pairing_job_study_status")]

    def __str__(self) -> str:
        return f"pairing job {self.pk} of study {self.study_id} ({self.status})"


class Conversation(models.Model):
    """A multi-turn conversation of one annotator (Community Alignment): each turn is a prompt whose turns carry
    the earlier user prompts and chosen responses, with one set judgment per turn. Imported ones come from a CA
    file; live ones are written turn by turn (annotation/conversations.py, one TurnGeneration per turn)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conversations")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=128, help_text="conversation_id in Community Alignment files")
    language = models.CharField(max_length=16, blank=True, help_text="assigned_lang")
    first_prompt_pregenerated = models.BooleanField(
        null=True, blank=True, help_text="is_pregenerated_first_prompt: false when the annotator wrote it."
    )
    created_at = models.DateTimeField()
    # Live conversations only: the study prompt its first turn started from (balanced across annotators), and
    # when the annotator ended it (or it reached the study's max_turns).
    seed_prompt = models.ForeignKey(
        "Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="seeded_conversations"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "external_id"], name="conversation_unique_id")]

    def __str__(self) -> str:
        return self.external_id


class CandidateSet(models.Model):
    """k candidates of one prompt shown together (issue 13), chosen by a set strategy (nc, random) or imported.
    A set made by the study's strategy gets k slots (annotation/set_making.py), as a pair does; imported sets
    hold none, like imported pairs.

    Members are a list of candidate ids in the set's canonical order, not rows of a table of their own: a set never
    changes, and a Community Alignment import makes ~270k members (a member table with its indexes was a fifth of
    that import's database time)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidate_sets")
    members = models.JSONField(help_text="Candidate ids of the prompt, in the set's canonical order")
    strategy = models.CharField(max_length=32, help_text="nc, random or imported")
    diversity = models.FloatField(null=True, blank=True, help_text="Mean pairwise 1 - cosine similarity")
    size = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"set {self.pk} of prompt {self.prompt_id}"


class SetJudgment(models.Model):
    """A judgment of a set, stored once: the members in the order shown, the best (required), a ranking of the
    rest (optional; blocks of candidate ids, better first, ties within a block) and an explanation. Its pairwise
    judgments (origin "set") are written from annotation/set_expansion.py and nowhere else."""

    class Origin(models.TextChoices):
        WEB = "web", "Annotated here"
        IMPORT = "import", "Imported"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="set_judgments", db_index=False
    )
    candidate_set = models.ForeignKey(CandidateSet, on_delete=models.CASCADE, related_name="judgments")
    # The lease it was made on (the set-task loop); empty for imported ones.
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="set_judgment"
    )
    shown = models.JSONField(help_text="Candidate ids in the order shown")
    best = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="+")
    ranking = models.JSONField(default=list, blank=True, help_text="[[id], [id, id], ...]: the rest, better first")
    explanation = models.TextField(blank=True)
    group_key = models.CharField(max_length=255, db_index=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="set_judgments"
    )
    turn = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 for the first turn")
    time_taken_ms = models.PositiveIntegerField(null=True, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.WEB)
    client_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "candidate_set"], name="set_judgment_once_per_set"),
        ]

    def __str__(self) -> str:
        return f"set judgment {self.pk} of set {self.candidate_set_id}"


class TurnGeneration(models.Model):
    """One live-conversation turn's responses, asked of the NC endpoint on the `generation` queue
    (alignment/turn_generation.py). This row is the truth about it: pages and the API read it, never Celery's
    result. Done: the turn's prompt, candidates and set are stored (all at once) and `shown` is their order on
    screen. Failed: nothing of the turn is stored but the error; a retry queues it again (attempts counts starts)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="generations")
    turn = models.PositiveSmallIntegerField(help_text="1 for the first turn")
    context = models.JSONField(help_text="The conversation so far, ending with this turn's user prompt")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")
    model = models.CharField(max_length=200, blank=True, help_text="The endpoint's model: the candidates' source.")
    prompt = models.OneToOneField(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="turn_generation"
    )
    candidate_set = models.OneToOneField(
        CandidateSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="turn_generation"
    )
    shown = models.JSONField(default=list, blank=True, help_text="Candidate ids in the (random) order shown")
    client_id = models.CharField(max_length=64, blank=True, help_text="The request's idempotency key.")
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    endpoint_seconds = models.FloatField(null=True, blank=True, help_text="The endpoint's own time (last attempt).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "turn"], name="turn_generation_once_per_turn"),
            models.CheckConstraint(condition=Q(status__in=["queued", "running", "done", "failed"]),
                                   name="turn_generation_status"),
        ]

    def __str__(self) -> str:
        return f"turn {self.turn} of conversation {self.conversation_id} ({self.status})"
