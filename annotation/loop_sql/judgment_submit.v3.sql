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
    -- The common case, a live lease of the caller's, on screen long enough, taken in one statement.
    UPDATE annotation_assignment a SET status = 'judged'
      FROM annotation_participant pa, annotation_study st, annotation_pair p
     WHERE a.id = p_assignment AND a.status = 'active' AND a.expires_at > p_now
       AND pa.id = a.participant_id AND pa.user_id = p_user AND st.id = pa.study_id AND p.id = a.pair_id
       AND a.created_at <= p_now - make_interval(secs => st.min_view_ms / 1000.0)
    RETURNING a.participant_id, a.status, a.expires_at, a.swapped, a.slot_id, a.pair_id,
              p.candidate_a_id, p.candidate_b_id, pa.user_id, pa.group_key, st.quota,
              st.id AS study_id, st.allocation, st.k_min, st.precision
         INTO v;
    IF NOT FOUND THEN
        -- Why not: unknown, foreign, judged, skipped, too soon, or a lapsed lease (accepted while its
        -- slot is still free).
        SELECT a.participant_id, a.status, a.expires_at, a.created_at, a.swapped, a.slot_id, a.pair_id,
               p.candidate_a_id, p.candidate_b_id, pa.user_id, pa.group_key, st.quota, st.min_view_ms,
               s.status AS slot_status, s.group_key AS slot_group,
               st.id AS study_id, st.allocation, st.k_min, st.precision
          INTO v
          FROM annotation_assignment a
          JOIN annotation_participant pa ON pa.id = a.participant_id
          JOIN annotation_study st ON st.id = pa.study_id
          JOIN annotation_pair p ON p.id = a.pair_id
          JOIN annotation_slot s ON s.id = a.slot_id
         WHERE a.id = p_assignment
           FOR UPDATE OF a, s;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'unknown'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::varchar, NULL::timestamptz, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        IF v.user_id IS DISTINCT FROM p_user THEN
            RETURN QUERY SELECT 'foreign'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::varchar, NULL::timestamptz, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        IF v.status IN ('active', 'expired') AND v.created_at > p_now - make_interval(secs => v.min_view_ms / 1000.0)
        THEN
            RETURN QUERY SELECT 'too_soon'::text, NULL::bigint, v.participant_id, v.pair_id, NULL::bigint,
                                NULL::bigint, v.group_key, v.expires_at, NULL::bigint, v.quota;
            RETURN;
        END IF;
        IF v.status = 'active' THEN
            -- Lapsed, but nobody has taken its slot (taking it would have ended this lease): accepted.
            UPDATE annotation_assignment SET status = 'judged' WHERE id = p_assignment;
        ELSIF v.status = 'expired' AND v.slot_status = 'open' AND NOT EXISTS (
                SELECT 1 FROM annotation_assignment x
                 WHERE x.participant_id = v.participant_id AND x.pair_id = v.pair_id AND x.status <> 'expired') THEN
            -- Ended and reopened, but still free: take the slot back (within the group cap) and accept.
            BEGIN
                UPDATE annotation_slot
                   SET status = 'done', lease_expires_at = NULL,
                       open_group = CASE WHEN v.slot_group = '' THEN v.group_key ELSE '' END
                 WHERE id = v.slot_id;
            EXCEPTION WHEN unique_violation THEN
                v.status := 'lost';  -- the group already holds this pair's open slot
            END;
            IF v.status = 'lost' THEN
                RETURN QUERY SELECT 'expired'::text, NULL::bigint, v.participant_id, v.pair_id, NULL::bigint,
                                    NULL::bigint, v.group_key, v.expires_at, NULL::bigint, v.quota;
                RETURN;
            END IF;
            UPDATE annotation_assignment SET status = 'judged' WHERE id = p_assignment;
        ELSE
            RETURN QUERY SELECT (CASE WHEN v.status IN ('judged', 'skipped') THEN v.status ELSE 'expired' END)::text,
                                NULL::bigint, v.participant_id, v.pair_id, NULL::bigint, NULL::bigint,
                                v.group_key, v.expires_at, NULL::bigint, v.quota;
            RETURN;
        END IF;
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
    -- The pair's per-group counts (annotation.PairGroupCount), wins for the pair's own candidate A.
    IF p_choice <> 'both_bad' THEN
        INSERT INTO annotation_pairgroupcount (pair_id, study_id, group_key, n, wins)
        VALUES (v.pair_id, v.study_id, v.group_key, 1,
                CASE WHEN p_choice = 'tie' THEN 0.5
                     WHEN (p_choice = 'A') = (v_left = v.candidate_a_id) THEN 1 ELSE 0 END)
        ON CONFLICT (pair_id, group_key) DO UPDATE
           SET n = annotation_pairgroupcount.n + 1, wins = annotation_pairgroupcount.wins + EXCLUDED.wins;
        IF v.allocation = 'adaptive' THEN
            PERFORM pluralweb_pair_allocate(v.study_id, v.pair_id, v.k_min, v.precision);
        END IF;
    END IF;
    SELECT count(*) INTO v_done FROM annotation_judgment j WHERE j.participant_id = v.participant_id;
    RETURN QUERY SELECT 'created'::text, v_judgment, v.participant_id, v.pair_id, v_left, v_right, v.group_key,
                        v.expires_at, v_done, v.quota;
END $$;
