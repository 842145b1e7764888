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
    v_allocation varchar;
BEGIN
    -- One participant's concurrent calls (two tabs) queue up here without touching anyone else. An
    -- advisory lock rather than a row lock: nothing is written to take it.
    PERFORM pg_advisory_xact_lock(1886155381, mod(p_participant, 2147483647)::integer);
    SELECT pa.group_key, st.id, st.quota, st.lease_minutes, st.open_slots_after, st.is_open, st.allocation,
           (SELECT count(*) FROM annotation_judgment j WHERE j.participant_id = pa.id),
           (SELECT min(a.id) FROM annotation_assignment a
             WHERE a.participant_id = pa.id AND a.status = 'active' AND a.expires_at > p_now),
           EXISTS (SELECT 1 FROM annotation_assignment a
                    WHERE a.participant_id = pa.id AND a.status = 'active' AND a.expires_at <= p_now)
      INTO v_group, v_study, v_quota, v_lease, v_wait, v_open, v_allocation, v_done, v_live, v_lapsed
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
            -- Adaptive allocation: the largest priority first (annotation/loop_sql/pair_allocate.v1.sql),
            -- through slot_claimable_priority_idx; uniform: lowest pair first, as before.
            IF v_allocation = 'adaptive' THEN
                SELECT s.id, s.pair_id, s.group_key, s.status INTO v_slot FROM annotation_slot s
                 WHERE s.study_id = v_study AND s.status IN ('open', 'leased') AND s.priority > 0
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
                 ORDER BY s.priority DESC, s.pair_id, s.group_key DESC, s.id
                 LIMIT 1
                 FOR UPDATE OF s SKIP LOCKED;
            ELSE
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
            END IF;
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
