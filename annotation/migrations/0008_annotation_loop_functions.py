"""PostgreSQL only: `next` and submit as server-side functions, one round trip each.

On this project's machines a database round trip costs about 0.35 ms of CPU (client and server
together), more than the statements themselves; `next` took eight of them and submit seven. Each
function runs the same rules as the Python path in annotation/assignment.py and annotation/judgments.py
(which SQLite uses), called in autocommit so that the call is its own transaction. The tests run both
paths (scripts/test runs the annotation-loop tests on SQLite as well when DATABASE_URL is PostgreSQL).
"""

from django.db import migrations

PAIR_NEXT = """
CREATE OR REPLACE FUNCTION pluralweb_slot_claim(
    p_participant bigint, p_group varchar, p_slot_id bigint, p_pair_id bigint, p_slot_group varchar,
    p_slot_status varchar, p_now timestamptz, p_expires timestamptz
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_assignment bigint;
BEGIN
    IF p_slot_status = 'leased' THEN  -- an expired lease: its holder loses it
        UPDATE annotation_assignment SET status = 'expired' WHERE slot_id = p_slot_id AND status = 'active';
    END IF;
    UPDATE annotation_slot
       SET status = 'leased', lease_expires_at = p_expires,
           open_group = CASE WHEN p_slot_group = '' THEN p_group ELSE '' END
     WHERE id = p_slot_id;
    INSERT INTO annotation_assignment (slot_id, pair_id, participant_id, swapped, status, created_at, expires_at)
    VALUES (p_slot_id, p_pair_id, p_participant, random() < 0.5, 'active', p_now, p_expires)
    RETURNING id INTO v_assignment;
    RETURN v_assignment;
END $$;

CREATE OR REPLACE FUNCTION pluralweb_pair_next(p_participant bigint, p_now timestamptz, p_group_cap boolean)
RETURNS TABLE (
    done bigint, quota integer, assignment_id bigint, pair_id bigint, slot_id bigint, swapped boolean, expires_at timestamptz,
    prompt_id bigint, prompt_external_id varchar, turns jsonb,
    a_id bigint, a_external_id varchar, a_text text, b_id bigint, b_external_id varchar, b_text text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_group varchar; v_study bigint; v_quota integer; v_lease integer; v_wait integer; v_open boolean;
    v_done bigint; v_live bigint; v_lapsed boolean; v_slot record; v_skipped bigint[] := '{}';
BEGIN
    -- One participant's concurrent calls (two tabs) queue up here without touching anyone else. An
    -- advisory lock rather than a row lock: nothing is written to take it.
    PERFORM pg_advisory_xact_lock(1886155381, mod(p_participant, 2147483647)::integer);
    SELECT pa.group_key, st.id, st.quota, st.lease_minutes, st.open_slots_after, st.is_open,
           (SELECT count(*) FROM annotation_judgment j WHERE j.participant_id = pa.id),
           (SELECT min(a.id) FROM annotation_assignment a
             WHERE a.participant_id = pa.id AND a.status = 'active' AND a.expires_at > p_now),
           EXISTS (SELECT 1 FROM annotation_assignment a
                    WHERE a.participant_id = pa.id AND a.status = 'active' AND a.expires_at <= p_now)
      INTO v_group, v_study, v_quota, v_lease, v_wait, v_open, v_done, v_live, v_lapsed
      FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id
     WHERE pa.id = p_participant;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_lapsed THEN
        WITH lapsed AS (
            UPDATE annotation_assignment SET status = 'expired'
             WHERE participant_id = p_participant AND status = 'active'
               AND annotation_assignment.expires_at <= p_now
            RETURNING annotation_assignment.slot_id
        )
        UPDATE annotation_slot SET status = 'open', lease_expires_at = NULL, open_group = ''
         WHERE id IN (SELECT lapsed.slot_id FROM lapsed) AND status = 'leased';
    END IF;
    IF v_live IS NULL THEN
        IF v_done >= v_quota OR NOT v_open THEN
            RETURN;
        END IF;
        FOR attempt IN 1..8 LOOP
            SELECT s.id, s.pair_id, s.group_key, s.status INTO v_slot FROM annotation_slot s
             WHERE s.study_id = v_study AND s.status IN ('open', 'leased')
               AND (s.status = 'open' OR s.lease_expires_at < p_now)
               AND (s.group_key IN (v_group, '')
                    OR (v_wait IS NOT NULL AND EXISTS (
                        SELECT 1 FROM annotation_pair p
                         WHERE p.id = s.pair_id AND p.created_at <= p_now - make_interval(mins => v_wait))))
               AND s.pair_id NOT IN (
                   SELECT x.pair_id FROM annotation_assignment x
                    WHERE x.participant_id = p_participant AND x.status <> 'expired')
               AND NOT (p_group_cap AND s.group_key = '' AND EXISTS (
                   SELECT 1 FROM annotation_slot o WHERE o.pair_id = s.pair_id AND o.open_group = v_group))
               AND s.id <> ALL (v_skipped)
             ORDER BY s.pair_id, s.group_key DESC, s.id
             LIMIT 1
             FOR UPDATE OF s SKIP LOCKED;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            IF v_slot.group_key <> '' THEN
                -- A group's own slot: the row lock is all it needs, no unique index can object.
                v_live := pluralweb_slot_claim(p_participant, v_group, v_slot.id, v_slot.pair_id, v_slot.group_key,
                                               v_slot.status, p_now, p_now + make_interval(mins => v_lease));
                EXIT;
            END IF;
            BEGIN
                v_live := pluralweb_slot_claim(p_participant, v_group, v_slot.id, v_slot.pair_id, v_slot.group_key,
                                               v_slot.status, p_now, p_now + make_interval(mins => v_lease));
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                -- Another annotator of the same group took this pair's open slot a moment ago.
                v_skipped := v_skipped || v_slot.id;
            END;
        END LOOP;
        IF v_live IS NULL THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
    SELECT v_done, v_quota, a.id, a.pair_id, a.slot_id, a.swapped, a.expires_at,
           pr.id, pr.external_id, pr.turns, ca.id, ca.external_id, ca.text, cb.id, cb.external_id, cb.text
      FROM annotation_assignment a
      JOIN annotation_pair p ON p.id = a.pair_id
      JOIN annotation_prompt pr ON pr.id = p.prompt_id
      JOIN annotation_candidate ca ON ca.id = p.candidate_a_id
      JOIN annotation_candidate cb ON cb.id = p.candidate_b_id
     WHERE a.id = v_live;
END $$;
"""

JUDGMENT_SUBMIT = """
CREATE OR REPLACE FUNCTION pluralweb_judgment_submit(
    p_user bigint, p_assignment bigint, p_choice varchar, p_strength varchar, p_rationale text,
    p_time_taken_ms integer, p_client_id varchar, p_now timestamptz
) RETURNS TABLE (
    outcome text, judgment_id bigint, participant_id bigint, pair_id bigint, candidate_a_id bigint,
    candidate_b_id bigint, group_key varchar, expires_at timestamptz, done bigint, quota integer
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v record;
    v_judgment bigint;
    v_left bigint;
    v_right bigint;
    v_done bigint;
BEGIN
    -- The common case, a live lease of the caller's, taken in one statement.
    UPDATE annotation_assignment a SET status = 'judged'
      FROM annotation_participant pa, annotation_study st, annotation_pair p
     WHERE a.id = p_assignment AND a.status = 'active' AND a.expires_at > p_now
       AND pa.id = a.participant_id AND pa.user_id = p_user AND st.id = pa.study_id AND p.id = a.pair_id
    RETURNING a.participant_id, a.status, a.expires_at, a.swapped, a.slot_id, a.pair_id,
              p.candidate_a_id, p.candidate_b_id, pa.user_id, pa.group_key, st.quota
         INTO v;
    IF NOT FOUND THEN
        -- Why not: unknown, foreign, judged, expired, or lapsed just now.
        SELECT a.participant_id, a.status, a.expires_at, pa.user_id, pa.group_key, a.slot_id, a.pair_id, st.quota
          INTO v
          FROM annotation_assignment a
          JOIN annotation_participant pa ON pa.id = a.participant_id
          JOIN annotation_study st ON st.id = pa.study_id
         WHERE a.id = p_assignment
           FOR UPDATE OF a;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'unknown'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::varchar, NULL::timestamptz, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        IF v.user_id IS DISTINCT FROM p_user THEN
            v.status := 'foreign';
        ELSIF v.status = 'active' THEN
            -- Lapsed: end it now; the refusal still commits that.
            UPDATE annotation_assignment SET status = 'expired' WHERE id = p_assignment;
            UPDATE annotation_slot SET status = 'open', lease_expires_at = NULL, open_group = ''
             WHERE id = v.slot_id AND status = 'leased';
            v.status := 'expired';
        END IF;
        RETURN QUERY SELECT v.status::text, NULL::bigint, v.participant_id, v.pair_id, NULL::bigint, NULL::bigint,
                            v.group_key, v.expires_at, NULL::bigint, v.quota;
        RETURN;
    END IF;
    IF v.swapped THEN
        v_left := v.candidate_b_id; v_right := v.candidate_a_id;
    ELSE
        v_left := v.candidate_a_id; v_right := v.candidate_b_id;
    END IF;
    -- A duplicate client id or a second judgment of the pair raises unique_violation: the caller
    -- answers with the stored judgment.
    INSERT INTO annotation_judgment (participant_id, pair_id, assignment_id, candidate_a_id, candidate_b_id, choice,
                                     strength, rationale, group_key, time_taken_ms, origin, client_id, created_at)
    VALUES (v.participant_id, v.pair_id, p_assignment, v_left, v_right, p_choice, p_strength, p_rationale,
            v.group_key, p_time_taken_ms, 'web', p_client_id, p_now)
    RETURNING id INTO v_judgment;
    UPDATE annotation_slot SET status = 'done', lease_expires_at = NULL WHERE id = v.slot_id;
    SELECT count(*) INTO v_done FROM annotation_judgment j WHERE j.participant_id = v.participant_id;
    RETURN QUERY SELECT 'created'::text, v_judgment, v.participant_id, v.pair_id, v_left, v_right, v.group_key,
                        v.expires_at, v_done, v.quota;
END $$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PAIR_NEXT)
        schema_editor.execute(JUDGMENT_SUBMIT)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS pluralweb_pair_next(bigint, timestamptz, boolean);"
            " DROP FUNCTION IF EXISTS pluralweb_slot_claim(bigint, varchar, bigint, bigint, varchar, varchar,"
            " timestamptz, timestamptz);"
            " DROP FUNCTION IF EXISTS pluralweb_judgment_submit(bigint, bigint, varchar, varchar, text, integer,"
            " varchar, timestamptz)"
        )


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_judgment_day_statistics")]
    operations = [migrations.RunPython(create, drop)]
