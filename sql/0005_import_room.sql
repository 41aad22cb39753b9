-- Room import as one statement (one round trip, one implicit transaction).
-- p_events: a JSON array of objects {event_id, type, state_key, sender, depth, origin_server_ts,
-- membership, prev_events, auth_events, pdu}; p_state: the IDs of the events that make up the
-- room's state after them (a subset of p_events). Contract: README.md, "import_room".
CREATE FUNCTION import_room(
    p_room_id      text,
    p_room_version text,
    p_events       json,
    p_state        text[],
    OUT outcome             text,    -- imported | already_imported | room_has_other_events | version_mismatch | event_id_in_other_room
    OUT events              integer, -- events of the import (whether new or not)
    OUT new_events          integer, -- events this call stored
    OUT state_events        integer, -- the room's current state entries
    OUT joined_members      integer,
    OUT forward_extremities integer,
    OUT stream_position     bigint,  -- when imported: the position of the last event stored
    OUT last_event_id       text     -- when imported: that event's ID
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_version text;
    v_created boolean;
BEGIN
    PERFORM require_read_committed('import_room');

    CREATE TEMPORARY TABLE import_events ON COMMIT DROP AS
        SELECT * FROM ROWS FROM (json_to_recordset(p_events) AS (
            event_id text, type text, state_key text, sender text, depth bigint, origin_server_ts bigint,
            membership text, prev_events text[], auth_events text[], pdu text)) WITH ORDINALITY
            AS e(event_id, type, state_key, sender, depth, origin_server_ts,
                 membership, prev_events, auth_events, pdu, position);
    events := (SELECT count(*) FROM import_events);

    IF EXISTS (SELECT 1 FROM import_events i JOIN events e USING (event_id) WHERE e.room_id <> p_room_id) THEN
        outcome := 'event_id_in_other_room';
        RETURN;
    END IF;

    INSERT INTO rooms (room_id, room_version) VALUES (p_room_id, p_room_version) ON CONFLICT DO NOTHING;
    v_created := FOUND;
    -- Serialises with leaves and other imports of the room until commit.
    SELECT room_version INTO v_version FROM rooms WHERE room_id = p_room_id FOR NO KEY UPDATE;
    IF v_version <> p_room_version THEN
        outcome := 'version_mismatch';
        RETURN;
    END IF;

    IF NOT v_created THEN
        -- The room is already held: importing the same events again changes nothing;
        -- merging a different history into a live room would need state resolution.
        outcome := CASE WHEN EXISTS (SELECT 1 FROM import_events i
                                     WHERE NOT EXISTS (SELECT 1 FROM events e
                                                       WHERE e.room_id = p_room_id AND e.event_id = i.event_id))
                        THEN 'room_has_other_events' ELSE 'already_imported' END;
        new_events := 0;
    ELSE
        INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                            membership, prev_events, auth_events, pdu)
            SELECT p_room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                   membership, prev_events, auth_events, pdu
            FROM import_events ORDER BY position;
        GET DIAGNOSTICS new_events = ROW_COUNT;
        SELECT e.stream_ordering, e.event_id INTO stream_position, last_event_id
            FROM events e WHERE e.room_id = p_room_id ORDER BY e.stream_ordering DESC LIMIT 1;

        INSERT INTO current_state (room_id, type, state_key, event_id)
            SELECT p_room_id, i.type, i.state_key, i.event_id
            FROM import_events i JOIN unnest(p_state) AS s(event_id) USING (event_id);

        INSERT INTO memberships (room_id, user_id, membership, event_id)
            SELECT p_room_id, i.state_key, i.membership, i.event_id
            FROM import_events i JOIN unnest(p_state) AS s(event_id) USING (event_id)
            WHERE i.type = 'm.room.member';

        INSERT INTO room_joined_servers (room_id, server_name, joined_members)
            SELECT p_room_id, user_server(user_id), count(*)
            FROM memberships WHERE room_id = p_room_id AND membership = 'join'
            GROUP BY 2;

        INSERT INTO forward_extremities (room_id, event_id)
            SELECT p_room_id, event_id FROM import_events
            EXCEPT
            SELECT p_room_id, unnest(prev_events) FROM import_events;

        outcome := 'imported';
    END IF;

    state_events := (SELECT count(*) FROM current_state WHERE room_id = p_room_id);
    joined_members := (SELECT count(*) FROM memberships WHERE room_id = p_room_id AND membership = 'join');
    forward_extremities := (SELECT count(*) FROM forward_extremities WHERE room_id = p_room_id);
END
$$;
