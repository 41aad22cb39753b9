-- The event stream in commit order, and which events the fleet accepted (sql/README.md, "Event stream").
--
-- 1. The stream lock: every transaction that inserts events takes
--    `pg_advisory_xact_lock(7463701)` after its room locks and before its first event row, and
--    holds it to commit. Stream positions are therefore allocated and committed in one order: a
--    reader that sees position p sees every committed position below p, and
--    `… WHERE stream_ordering > $pos ORDER BY stream_ordering` never skips a later commit.
--    store_leave, store_leaves (which locks all its rooms first, ascending, then the stream) and
--    import_room are replaced with the same bodies plus the lock.
-- 2. `events.accepted`: true for the leaves store_leave accepts (the events to forward and to feed
--    to the homeserver); false for imported history. Leaves stored before this migration are marked
--    when they had outbox rows (a leave in a room with no other server is indistinguishable from
--    imported history and stays false: it had nobody to be forwarded to).

ALTER TABLE events ADD COLUMN accepted boolean NOT NULL DEFAULT false;
UPDATE events e SET accepted = true
    WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.room_id = e.room_id AND o.event_id = e.event_id);

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

    -- The stream lock (after the room lock, before the event row): positions commit in order.
    PERFORM pg_advisory_xact_lock(7463701);
    INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                        membership, prev_events, auth_events, pdu, accepted)
        VALUES (p_room_id, p_event_id, p_type, p_state_key, p_sender, p_depth, p_origin_server_ts,
                p_membership, p_prev_events, p_auth_events, p_pdu, true)
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

CREATE OR REPLACE FUNCTION store_leaves(p_leaves json)
RETURNS TABLE (leave_index bigint, outcome text, stream_position bigint, current_membership text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    l record;
BEGIN
    -- Every room of the batch first (ascending), then the stream lock, so that no transaction
    -- ever holds the stream lock while it waits for a room.
    PERFORM 1 FROM rooms
        WHERE room_id IN (SELECT x.room_id FROM json_to_recordset(p_leaves) AS x(room_id text))
        ORDER BY room_id FOR NO KEY UPDATE;
    PERFORM pg_advisory_xact_lock(7463701);
    FOR l IN
        SELECT * FROM ROWS FROM (json_to_recordset(p_leaves) AS (
            room_id text, event_id text, type text, state_key text, sender text, depth bigint,
            origin_server_ts bigint, membership text, prev_events text[], auth_events text[], pdu text,
            expected_membership text, destinations text[], exclude_servers text[]))
        WITH ORDINALITY AS x(room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership,
                             prev_events, auth_events, pdu, expected_membership, destinations, exclude_servers, n)
        ORDER BY x.room_id, x.n
    LOOP
        leave_index := l.n;
        SELECT s.outcome, s.stream_position, s.current_membership
            INTO outcome, stream_position, current_membership
            FROM store_leave(l.room_id, l.event_id, l.type, l.state_key, l.sender, l.depth, l.origin_server_ts,
                             l.membership, l.prev_events, l.auth_events, l.pdu, l.expected_membership,
                             l.destinations, l.exclude_servers) s;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION import_room(
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
        -- The stream lock (after the room lock, before the event rows): positions commit in order.
        PERFORM pg_advisory_xact_lock(7463701);
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
