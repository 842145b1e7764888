CREATE OR REPLACE FUNCTION pluralweb_divergence_variance(
    p_n double precision[], p_wins double precision[], p_g integer
) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
-- Sum over the other groups h of Var|p_g - p_h| under Beta(1 + wins, 1 + n - wins) posteriors; Var p_g
-- alone with one group (annotation/allocation_rule.py divergence_variance).
DECLARE
    a double precision; b double precision; m_g double precision; v_g double precision;
    m_h double precision; v_h double precision; total double precision := 0;
BEGIN
    a := 1 + p_wins[p_g]; b := 1 + p_n[p_g] - p_wins[p_g];
    m_g := a / (a + b); v_g := m_g * (1 - m_g) / (a + b + 1);
    IF array_length(p_n, 1) = 1 THEN
        RETURN v_g;
    END IF;
    FOR h IN 1..array_length(p_n, 1) LOOP
        IF h <> p_g THEN
            a := 1 + p_wins[h]; b := 1 + p_n[h] - p_wins[h];
            m_h := a / (a + b); v_h := m_h * (1 - m_h) / (a + b + 1);
            total := total + pluralweb_folded_variance(m_g - m_h, v_g + v_h);
        END IF;
    END LOOP;
    RETURN total;
END $$;
