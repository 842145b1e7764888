CREATE OR REPLACE FUNCTION pluralweb_set_next(p_participant bigint, p_now timestamptz, p_group_cap boolean)
RETURNS TABLE (
    done bigint, quota integer, assignment_id bigint, set_id bigint, shown jsonb, expires_at timestamptz,
    prompt_id bigint, prompt_external_id varchar, turns jsonb, candidates jsonb
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_group varchar; v_study bigint; v_quota integer; v_lease integer; v_wait integer; v_open boolean;
    v_done bigint; v_live bigint; v_lapsed boolean; v_slot record; v_skipped bigint[] := '{}';
    v_excluded bigint[]; v_expires timestamptz;
BEGIN
    -- annotation/set_assignment.py's rules in one round trip; the pair loop's per-participant lock (two tabs
    -- queue up and never get two leases).
    PERFORM pg_advisory_xact_lock(1886155381, mod(p_participant, 2147483647)::integer);
    SELECT pa.group_key, st.id, st.quota, st.lease_minutes, st.open_slots_after, st.is_open,
           (SELECT count(*) FROM annotation_setjudgment j WHERE j.participant_id = pa.id),
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
        -- Sets sharing two members with one the participant holds or judged: its pair would be stated twice.
        SELECT coalesce(array_agg(DISTINCT o.id), '{}') INTO v_excluded
          FROM annotation_candidateset h
          JOIN annotation_candidateset o ON o.prompt_id = h.prompt_id AND o.id <> h.id
         WHERE h.id IN (
                SELECT x.candidate_set_id FROM annotation_assignment x
                 WHERE x.participant_id = p_participant AND x.status IN ('active', 'judged')
                   AND x.candidate_set_id IS NOT NULL
                UNION SELECT j.candidate_set_id FROM annotation_setjudgment j WHERE j.participant_id = p_participant)
           AND (SELECT count(*) FROM jsonb_array_elements(o.members) m
                 WHERE m IN (SELECT jsonb_array_elements(h.members))) >= 2;
        FOR attempt IN 1..8 LOOP
            SELECT s.id, s.candidate_set_id, s.group_key, s.status, c.members INTO v_slot
              FROM annotation_slot s JOIN annotation_candidateset c ON c.id = s.candidate_set_id
             WHERE s.study_id = v_study AND s.candidate_set_id IS NOT NULL AND s.status IN ('open', 'leased')
               AND (s.status = 'open' OR s.lease_expires_at < p_now)
               AND (s.group_key IN (v_group, '')
                    OR (v_wait IS NOT NULL AND c.created_at <= p_now - make_interval(mins => v_wait)))
               AND s.candidate_set_id NOT IN (
                   SELECT x.candidate_set_id FROM annotation_assignment x
                    WHERE x.participant_id = p_participant AND x.status <> 'expired'
                      AND x.candidate_set_id IS NOT NULL)
               AND NOT (p_group_cap AND s.group_key = '' AND EXISTS (
                   SELECT 1 FROM annotation_slot o
                    WHERE o.candidate_set_id = s.candidate_set_id AND o.open_group = v_group))
               AND s.id <> ALL (v_skipped)
               AND s.candidate_set_id <> ALL (v_excluded)
             ORDER BY s.study_id, s.candidate_set_id, s.group_key DESC, s.id
             LIMIT 1
             FOR UPDATE OF s SKIP LOCKED;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            v_expires := p_now + make_interval(mins => v_lease);
            BEGIN
                IF v_slot.status = 'leased' THEN  -- an expired lease: its holder loses it
                    UPDATE annotation_assignment SET status = 'expired' WHERE slot_id = v_slot.id AND status = 'active';
                END IF;
                UPDATE annotation_slot
                   SET status = 'leased', lease_expires_at = v_expires,
                       open_group = CASE WHEN v_slot.group_key = '' THEN v_group ELSE '' END
                 WHERE id = v_slot.id;
                -- Shown in an order drawn now, or the one the participant saw when they held the set before.
                INSERT INTO annotation_assignment (slot_id, candidate_set_id, participant_id, swapped, shown, status,
                                                   created_at, expires_at)
                VALUES (v_slot.id, v_slot.candidate_set_id, p_participant, false,
                        COALESCE((SELECT x.shown FROM annotation_assignment x
                                   WHERE x.participant_id = p_participant AND x.candidate_set_id = v_slot.candidate_set_id
                                   ORDER BY x.id DESC LIMIT 1),
                                 (SELECT jsonb_agg(m ORDER BY random()) FROM jsonb_array_elements(v_slot.members) m)),
                        'active', p_now, v_expires)
                RETURNING id INTO v_live;
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                -- Another annotator of the same group took this set's open slot a moment ago.
                v_skipped := v_skipped || v_slot.id;
            END;
        END LOOP;
        IF v_live IS NULL THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
    SELECT v_done, v_quota, a.id, a.candidate_set_id, a.shown, a.expires_at, pr.id, pr.external_id, pr.turns,
           (SELECT jsonb_agg(jsonb_build_array(ca.id, ca.external_id, ca.text)) FROM annotation_candidate ca
             WHERE ca.prompt_id = pr.id AND ca.id IN (SELECT (jsonb_array_elements_text(a.shown))::bigint))
      FROM annotation_assignment a
      JOIN annotation_candidateset c ON c.id = a.candidate_set_id
      JOIN annotation_prompt pr ON pr.id = c.prompt_id
     WHERE a.id = v_live;
END $$;
