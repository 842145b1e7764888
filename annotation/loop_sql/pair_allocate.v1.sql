CREATE OR REPLACE FUNCTION pluralweb_pair_allocate(
    p_study bigint, p_pair bigint, p_k_min integer, p_precision double precision
) RETURNS void LANGUAGE plpgsql AS $$
-- Adaptive allocation after a judgment of the pair (annotation/allocation_rule.py, the same rule): each
-- open slot's priority becomes 1 + the gain of its group (an open-to-any slot: the largest gain); once the
-- pair is precise its open slots close. Slots another transaction holds are skipped, never waited for: two
-- submits of one pair each hold their own slot, and waiting here would deadlock them. A skipped slot
-- keeps its last priority until the pair's next judgment.
DECLARE
    v_keys varchar[]; v_n double precision[]; v_wins double precision[]; v_gain double precision[] := '{}';
    v_best double precision := 0; v_precise boolean; a double precision; b double precision;
    m_g double precision; m_h double precision; v_g double precision; v_h double precision;
    v_now double precision; v_won double precision; v_lost double precision; v_w double precision[];
    v_c double precision[];
BEGIN
    SELECT array_agg(c.group_key ORDER BY c.group_key), array_agg(c.n::double precision ORDER BY c.group_key),
           array_agg(c.wins ORDER BY c.group_key)
      INTO v_keys, v_n, v_wins
      FROM annotation_pairgroupcount c WHERE c.pair_id = p_pair;
    IF v_keys IS NULL THEN
        RETURN;
    END IF;
    FOR g IN 1..array_length(v_keys, 1) LOOP
        a := 1 + v_wins[g]; b := 1 + v_n[g] - v_wins[g];
        m_g := a / (a + b);
        v_now := pluralweb_divergence_variance(v_n, v_wins, g);
        v_c := v_n; v_c[g] := v_n[g] + 1;
        v_w := v_wins; v_w[g] := v_wins[g] + 1;
        v_won := pluralweb_divergence_variance(v_c, v_w, g);
        v_lost := pluralweb_divergence_variance(v_c, v_wins, g);
        v_gain := v_gain || greatest(v_now - (m_g * v_won + (1 - m_g) * v_lost), 0);
        v_best := greatest(v_best, v_gain[g]);
    END LOOP;
    -- Precise: every group has k_min judgments and every divergence's posterior sd is below the precision.
    v_precise := (SELECT min(x) FROM unnest(v_n) x) >= p_k_min;
    IF v_precise AND array_length(v_keys, 1) = 1 THEN
        a := 1 + v_wins[1]; b := 1 + v_n[1] - v_wins[1]; m_g := a / (a + b);
        v_precise := m_g * (1 - m_g) / (a + b + 1) < p_precision * p_precision;
    ELSIF v_precise THEN
        <<pairs>>
        FOR g IN 1..array_length(v_keys, 1) LOOP
            FOR h IN g + 1..array_length(v_keys, 1) LOOP
                a := 1 + v_wins[g]; b := 1 + v_n[g] - v_wins[g]; m_g := a / (a + b); v_g := m_g * (1 - m_g) / (a + b + 1);
                a := 1 + v_wins[h]; b := 1 + v_n[h] - v_wins[h]; m_h := a / (a + b); v_h := m_h * (1 - m_h) / (a + b + 1);
                IF pluralweb_folded_variance(m_g - m_h, v_g + v_h) >= p_precision * p_precision THEN
                    v_precise := false;
                    EXIT pairs;
                END IF;
            END LOOP;
        END LOOP;
    END IF;
    UPDATE annotation_slot s
       SET priority = CASE WHEN s.group_key = '' THEN 1 + v_best
                           ELSE 1 + coalesce(v_gain[array_position(v_keys, s.group_key)], v_best) END,
           status = CASE WHEN v_precise THEN 'closed' ELSE s.status END
     WHERE s.id IN (SELECT o.id FROM annotation_slot o
                     WHERE o.study_id = p_study AND o.pair_id = p_pair AND o.status = 'open' AND o.priority > 0
                       FOR UPDATE SKIP LOCKED);
END $$;
