CREATE OR REPLACE FUNCTION pluralweb_gold_next(p_participant bigint, p_now timestamptz)
RETURNS TABLE (
    done bigint, quota integer, assignment_id bigint, pair_id bigint, slot_id bigint, swapped boolean,
    expires_at timestamptz, prompt_id bigint, prompt_external_id varchar, turns jsonb,
    a_id bigint, a_external_id varchar, a_text text, b_id bigint, b_external_id varchar, b_text text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_study bigint; v_quota integer; v_open boolean; v_lease integer; v_done bigint; v_live boolean;
    v_pair bigint; v_slot bigint; v_assignment bigint;
BEGIN
    -- The key of pluralweb_pair_next's lock: one participant's gold and ordinary leases queue up.
    PERFORM pg_advisory_xact_lock(1886155381, mod(p_participant, 2147483647)::integer);
    SELECT pa.study_id, st.quota, st.is_open, st.lease_minutes,
           (SELECT count(*) FROM annotation_judgment j WHERE j.participant_id = pa.id),
           EXISTS (SELECT 1 FROM annotation_assignment a
                    WHERE a.participant_id = pa.id AND a.status = 'active' AND a.expires_at > p_now),
           (SELECT g.pair_id FROM annotation_golditem g
             WHERE g.study_id = pa.study_id AND g.pair_id NOT IN (
                   SELECT x.pair_id FROM annotation_assignment x
                    WHERE x.participant_id = pa.id AND x.status <> 'expired')
             ORDER BY random() LIMIT 1)
      INTO v_study, v_quota, v_open, v_lease, v_done, v_live, v_pair
      FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id
     WHERE pa.id = p_participant;
    IF NOT FOUND OR v_live OR v_done >= v_quota OR NOT v_open OR v_pair IS NULL THEN
        RETURN;
    END IF;
    -- A slot born done: never claimable, never reopened, so k and group balance never see it.
    INSERT INTO annotation_slot (pair_id, study_id, group_key, open_group, status, lease_expires_at)
    VALUES (v_pair, v_study, '', '', 'done', NULL) RETURNING id INTO v_slot;
    INSERT INTO annotation_assignment (slot_id, pair_id, participant_id, swapped, status, created_at, expires_at)
    VALUES (v_slot, v_pair, p_participant, random() < 0.5, 'active', p_now, p_now + make_interval(mins => v_lease))
    RETURNING id INTO v_assignment;
    RETURN QUERY
    SELECT v_done, v_quota, a.id, a.pair_id, a.slot_id, a.swapped, a.expires_at,
           pr.id, pr.external_id, pr.turns, ca.id, ca.external_id, ca.text, cb.id, cb.external_id, cb.text
      FROM annotation_assignment a
      JOIN annotation_pair p ON p.id = a.pair_id
      JOIN annotation_prompt pr ON pr.id = p.prompt_id
      JOIN annotation_candidate ca ON ca.id = p.candidate_a_id
      JOIN annotation_candidate cb ON cb.id = p.candidate_b_id
     WHERE a.id = v_assignment;
END $$;
