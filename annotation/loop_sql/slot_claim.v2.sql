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
    VALUES (p_slot_id, p_pair_id, p_participant,
            COALESCE((SELECT x.swapped FROM annotation_assignment x
                       WHERE x.participant_id = p_participant AND x.pair_id = p_pair_id
                       ORDER BY x.id DESC LIMIT 1), random() < 0.5),
            'active', p_now, p_expires)
    RETURNING id INTO v_assignment;
    RETURN v_assignment;
END $$;
