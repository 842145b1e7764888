CREATE OR REPLACE FUNCTION pluralweb_set_submit(
    p_user bigint, p_assignment bigint, p_best bigint, p_ranking jsonb, p_explanation text, p_time_taken_ms integer,
    p_client_id varchar, p_now timestamptz, p_a bigint[], p_b bigint[], p_choice varchar[], p_implied boolean[]
) RETURNS TABLE (
    outcome text, set_judgment_id bigint, participant_id bigint, set_id bigint, group_key varchar,
    expires_at timestamptz, done bigint, quota integer
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v record;
    v_judgment bigint;
    v_done bigint;
BEGIN
    -- annotation/set_submit.py's rules in one round trip. The comparisons (p_a, p_b, p_choice, p_implied: a shown
    -- first) come from annotation/set_expansion.py, computed by the caller from the assignment's shown order,
    -- which never changes once leased.
    IF EXISTS (
        SELECT 1 FROM annotation_assignment a
          JOIN annotation_judgment j ON j.participant_id = a.participant_id
          JOIN annotation_pair p ON p.id = j.pair_id
          JOIN unnest(p_a, p_b) x(a, b)
            ON (p.candidate_a_id = x.a AND p.candidate_b_id = x.b) OR (p.candidate_a_id = x.b AND p.candidate_b_id = x.a)
         WHERE a.id = p_assignment AND a.status <> 'judged') THEN
        RETURN QUERY SELECT 'pair_judged'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::varchar,
                            NULL::timestamptz, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    -- The common case, a live lease of the caller's, on screen long enough, taken in one statement.
    UPDATE annotation_assignment a SET status = 'judged'
      FROM annotation_participant pa, annotation_study st
     WHERE a.id = p_assignment AND a.status = 'active' AND a.expires_at > p_now AND a.candidate_set_id IS NOT NULL
       AND pa.id = a.participant_id AND pa.user_id = p_user AND st.id = pa.study_id
       AND a.created_at <= p_now - make_interval(secs => st.min_view_ms / 1000.0)
    RETURNING a.participant_id, a.expires_at, a.slot_id, a.candidate_set_id, a.shown, pa.group_key, st.quota,
              st.id AS study_id
         INTO v;
    IF NOT FOUND THEN
        SELECT a.participant_id, a.status, a.expires_at, a.created_at, a.slot_id, a.candidate_set_id, a.shown,
               pa.user_id, pa.group_key, st.quota, st.min_view_ms, s.status AS slot_status, s.group_key AS slot_group,
               st.id AS study_id
          INTO v
          FROM annotation_assignment a
          JOIN annotation_participant pa ON pa.id = a.participant_id
          JOIN annotation_study st ON st.id = pa.study_id
          JOIN annotation_slot s ON s.id = a.slot_id
         WHERE a.id = p_assignment
           FOR UPDATE OF a, s;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'unknown'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::varchar,
                                NULL::timestamptz, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        IF v.user_id IS DISTINCT FROM p_user OR v.candidate_set_id IS NULL THEN
            RETURN QUERY SELECT (CASE WHEN v.user_id IS DISTINCT FROM p_user THEN 'foreign' ELSE 'pair_task' END)::text,
                                NULL::bigint, NULL::bigint, NULL::bigint, NULL::varchar, NULL::timestamptz,
                                NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        IF v.status IN ('active', 'expired') AND v.created_at > p_now - make_interval(secs => v.min_view_ms / 1000.0)
        THEN
            RETURN QUERY SELECT 'too_soon'::text, NULL::bigint, v.participant_id, v.candidate_set_id, v.group_key,
                                v.expires_at, NULL::bigint, v.quota;
            RETURN;
        END IF;
        IF v.status = 'active' THEN
            -- Lapsed, but nobody has taken its slot (taking it would have ended this lease): accepted.
            UPDATE annotation_assignment SET status = 'judged' WHERE id = p_assignment;
        ELSIF v.status = 'expired' AND v.slot_status = 'open' AND NOT EXISTS (
                SELECT 1 FROM annotation_assignment x
                 WHERE x.participant_id = v.participant_id AND x.candidate_set_id = v.candidate_set_id
                   AND x.status <> 'expired') THEN
            -- Ended and reopened, but still free: take the slot back (within the group cap) and accept.
            BEGIN
                UPDATE annotation_slot
                   SET status = 'done', lease_expires_at = NULL,
                       open_group = CASE WHEN v.slot_group = '' THEN v.group_key ELSE '' END
                 WHERE id = v.slot_id;
            EXCEPTION WHEN unique_violation THEN
                v.status := 'lost';  -- the group already holds this set's open slot
            END;
            IF v.status = 'lost' THEN
                RETURN QUERY SELECT 'expired'::text, NULL::bigint, v.participant_id, v.candidate_set_id, v.group_key,
                                    v.expires_at, NULL::bigint, v.quota;
                RETURN;
            END IF;
            UPDATE annotation_assignment SET status = 'judged' WHERE id = p_assignment;
        ELSE
            RETURN QUERY SELECT (CASE WHEN v.status IN ('judged', 'skipped') THEN v.status ELSE 'expired' END)::text,
                                NULL::bigint, v.participant_id, v.candidate_set_id, v.group_key, v.expires_at,
                                NULL::bigint, v.quota;
            RETURN;
        END IF;
    END IF;
    -- A duplicate client id raises unique_violation: the caller answers with the stored set judgment.
    INSERT INTO annotation_setjudgment (participant_id, candidate_set_id, assignment_id, shown, best_id, ranking,
                                        explanation, group_key, time_taken_ms, origin, client_id, created_at)
    VALUES (v.participant_id, v.candidate_set_id, p_assignment, v.shown, p_best, p_ranking, p_explanation,
            v.group_key, p_time_taken_ms, 'web', p_client_id, p_now)
    RETURNING id INTO v_judgment;
    -- Pairs the comparisons need and nobody made yet, as (lower id, higher id): a concurrent twin makes each once.
    INSERT INTO annotation_pair (prompt_id, candidate_a_id, candidate_b_id, strategy, created_at)
    SELECT c.prompt_id, least(x.a, x.b), greatest(x.a, x.b), 'set', p_now
      FROM unnest(p_a, p_b) x(a, b) JOIN annotation_candidateset c ON c.id = v.candidate_set_id
     WHERE NOT EXISTS (SELECT 1 FROM annotation_pair p
                        WHERE (p.candidate_a_id = x.a AND p.candidate_b_id = x.b)
                           OR (p.candidate_a_id = x.b AND p.candidate_b_id = x.a))
     ORDER BY 2, 3
    ON CONFLICT (candidate_a_id, candidate_b_id) DO NOTHING;
    INSERT INTO annotation_judgment (participant_id, pair_id, candidate_a_id, candidate_b_id, choice, strength,
                                     rationale, group_key, origin, set_judgment_id, implied, client_id, created_at)
    SELECT v.participant_id, p.id, x.a, x.b, x.choice, '', '', v.group_key, 'set', v_judgment, x.implied,
           'set-' || v_judgment || '-' || (x.n - 1), p_now
      FROM unnest(p_a, p_b, p_choice, p_implied) WITH ORDINALITY x(a, b, choice, implied, n)
      JOIN LATERAL (SELECT p.id FROM annotation_pair p
                     WHERE (p.candidate_a_id = x.a AND p.candidate_b_id = x.b)
                        OR (p.candidate_a_id = x.b AND p.candidate_b_id = x.a)
                     ORDER BY p.id LIMIT 1) p ON true;
    UPDATE annotation_slot SET status = 'done', lease_expires_at = NULL WHERE id = v.slot_id;
    -- Each comparison's per-group count (annotation.PairGroupCount), wins for the pair's own candidate A, in pair
    -- order so that concurrent submits lock the rows in one order.
    INSERT INTO annotation_pairgroupcount (pair_id, study_id, group_key, n, wins)
    SELECT j.pair_id, v.study_id, v.group_key, 1,
           CASE WHEN j.choice = 'tie' THEN 0.5 WHEN (j.choice = 'A') = (j.candidate_a_id = p.candidate_a_id) THEN 1
                ELSE 0 END
      FROM annotation_judgment j JOIN annotation_pair p ON p.id = j.pair_id
     WHERE j.set_judgment_id = v_judgment
     ORDER BY j.pair_id
    ON CONFLICT (pair_id, group_key) DO UPDATE
       SET n = annotation_pairgroupcount.n + 1, wins = annotation_pairgroupcount.wins + EXCLUDED.wins;
    SELECT count(*) INTO v_done FROM annotation_setjudgment j WHERE j.participant_id = v.participant_id;
    RETURN QUERY SELECT 'created'::text, v_judgment, v.participant_id, v.candidate_set_id, v.group_key,
                        v.expires_at, v_done, v.quota;
END $$;
