-- store_leave again (0004), with two changes found by profiling under load (README.md, "Performance"):
--
-- 1. The leave's prev events leave forward_extremities by one full-primary-key DELETE each
--    instead of `event_id = ANY (p_prev_events)`.
-- 2. The outbox rows come from one of two plain INSERT … SELECTs (explicit destinations, or the
--    room's joined servers) instead of one UNION of both with a DISTINCT (half its cost).
--
-- On 1:
--
-- With `= ANY`, the plan PL/pgSQL caches for the statement was chosen by the table's statistics;
-- for a room created or grown since the last ANALYZE those say "one row", and the chosen plan
-- scanned the room's every extremity by room_id alone (0.2 ms a leave with 3,000 extremities,
-- growing with the room). An equality on the whole key is an index probe whatever the statistics.
-- The reads in Sources/Storage are built the same way (EventColumns).

CREATE OR REPLACE FUNCTION store_leave(
    p_room_id             text,
    p_event_id            text,
    p_type                text,
    p_state_key           text,
    p_sender              text,
    p_depth               bigint,
    p_origin_server_ts    bigint,
    p_membership          text,
    p_prev_events         text[],
    p_auth_events         text[],
    p_pdu                 text,
    p_expected_membership text,
    p_destinations        text[],   -- NULL: every server with a joined member, minus p_exclude_servers
    p_exclude_servers     text[],
    OUT outcome            text,    -- stored | already_stored | membership_changed | unknown_room | event_id_in_other_room
    OUT stream_position    bigint,  -- set when stored
    OUT current_membership text     -- set when membership_changed (NULL: no membership)
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_stored_room text;
    v_prev_event  text;
BEGIN
    PERFORM require_read_committed('store_leave');
    IF p_type <> 'm.room.member' OR p_membership IS DISTINCT FROM 'leave' OR p_state_key IS NULL THEN
        RAISE EXCEPTION 'store_leave stores m.room.member leave events only'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Per-room serialisation: held until commit.
    PERFORM 1 FROM rooms WHERE room_id = p_room_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown_room';
        RETURN;
    END IF;

    SELECT room_id INTO v_stored_room FROM events WHERE event_id = p_event_id;
    IF FOUND THEN
        outcome := CASE WHEN v_stored_room = p_room_id THEN 'already_stored' ELSE 'event_id_in_other_room' END;
        RETURN;
    END IF;

    SELECT membership INTO current_membership
        FROM memberships WHERE room_id = p_room_id AND user_id = p_state_key;
    IF current_membership IS DISTINCT FROM p_expected_membership THEN
        outcome := 'membership_changed';
        RETURN;
    END IF;
    current_membership := NULL;

    INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                        membership, prev_events, auth_events, pdu)
        VALUES (p_room_id, p_event_id, p_type, p_state_key, p_sender, p_depth, p_origin_server_ts,
                p_membership, p_prev_events, p_auth_events, p_pdu)
        RETURNING events.stream_ordering INTO stream_position;

    INSERT INTO memberships (room_id, user_id, membership, event_id)
        VALUES (p_room_id, p_state_key, p_membership, p_event_id)
        ON CONFLICT (room_id, user_id) DO UPDATE
            SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id;

    INSERT INTO current_state (room_id, type, state_key, event_id)
        VALUES (p_room_id, p_type, p_state_key, p_event_id)
        ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id;

    -- One full-key DELETE per prev event (see the top of this file).
    FOREACH v_prev_event IN ARRAY p_prev_events LOOP
        DELETE FROM forward_extremities WHERE room_id = p_room_id AND event_id = v_prev_event;
    END LOOP;
    INSERT INTO forward_extremities (room_id, event_id) VALUES (p_room_id, p_event_id);

    IF p_expected_membership = 'join' THEN
        UPDATE room_joined_servers SET joined_members = joined_members - 1
            WHERE room_id = p_room_id AND server_name = user_server(p_state_key);
    END IF;

    IF p_destinations IS NOT NULL THEN
        INSERT INTO outbox (room_id, event_id, destination)
            SELECT DISTINCT p_room_id, p_event_id, unnest(p_destinations);
    ELSE
        INSERT INTO outbox (room_id, event_id, destination)
            SELECT p_room_id, p_event_id, server_name FROM room_joined_servers
            WHERE room_id = p_room_id AND joined_members > 0
              AND server_name <> ALL (coalesce(p_exclude_servers, '{}'));
    END IF;

    outcome := 'stored';
END
$$;
