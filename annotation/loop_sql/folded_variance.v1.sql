CREATE OR REPLACE FUNCTION pluralweb_folded_variance(p_mu double precision, p_var double precision)
RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
-- Var|X| for X ~ Normal(mu, var): annotation/allocation_rule.py folded_variance, with its erf
-- (Abramowitz and Stegun 7.1.26; PostgreSQL 15 has no erf).
DECLARE
    s double precision; z double precision; t double precision; e double precision; mean_abs double precision;
BEGIN
    IF p_var <= 0 THEN
        RETURN 0;
    END IF;
    s := sqrt(p_var);
    z := abs(p_mu / (s * sqrt(2.0)));
    t := 1.0 / (1.0 + 0.3275911 * z);
    e := 1.0 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
              * exp(-z * z);
    IF p_mu < 0 THEN
        e := -e;
    END IF;
    mean_abs := s * sqrt(2.0 / pi()) * exp(-p_mu * p_mu / (2.0 * p_var)) + p_mu * e;
    RETURN greatest(p_mu * p_mu + p_var - mean_abs * mean_abs, 0);
END $$;
