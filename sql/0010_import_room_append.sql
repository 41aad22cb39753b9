-- Rooms kept in step with the homeserver of record (issue 15): import_room now appends to a held
-- room the events of the import it does not hold yet, instead of refusing them. Same parameters as
-- 0005; two more outputs name the events of a conflict. Contract: README.md, "import_room".
--
-- An appended m.room.member event conflicts when the user's current membership event — stored
-- (for instance a leave the fleet accepted meanwhile) or appended before it in the same import —
-- is neither among its auth_events nor its prev_events: it was built without knowing that event.
-- Inserting events takes the stream lock (7463701, README.md "Event stream") after the room lock.
-- The joined-server counts are upserted, keeping where each server's membership starts and ends on
-- the stream (0009's since_position/left_position): a server that had no joined member starts after
-- this import's events (it is not sent the leaves accepted before it joined); one that has none any
-- more keeps receiving what was accepted before now (README.md, "Forwarding").
DROP FUNCTION import_room(text, text, json, text[]);

-- The room's current state entries, joined members and forward extremities.
CREATE FUNCTION import_room_totals(p_room_id text,
                                   OUT state_events integer, OUT joined_members integer, OUT forward_extremities integer)
LANGUAGE sql STABLE
AS $$
    SELECT (SELECT count(*)::integer FROM current_state WHERE room_id = p_room_id),
           (SELECT count(*)::integer FROM memberships WHERE room_id = p_room_id AND membership = 'join'),
           (SELECT count(*)::integer FROM forward_extremities WHERE room_id = p_room_id)
$$;

CREATE FUNCTION import_room(
    p_room_id      text,
    p_room_version text,
    p_events       json,
    p_state        text[],
    OUT outcome              text,    -- imported | appended | already_imported | room_has_other_events
                                      -- | version_mismatch | event_id_in_other_room | conflict
    OUT events               integer, -- events of the import (whether new or not)
    OUT new_events           integer, -- events this call stored
    OUT state_events         integer, -- the room's current state entries
    OUT joined_members       integer,
    OUT forward_extremities  integer,
    OUT stream_position      bigint,  -- when imported/appended: the position of the last event stored
    OUT last_event_id        text,    -- when imported/appended: that event's ID
    OUT conflict_event_id    text,    -- when conflict: the appended event refused
    OUT conflicting_event_id text     -- when conflict: the current membership event it does not build on
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

    -- The events of the import the room does not hold yet, in the import's order.
    CREATE TEMPORARY TABLE appended ON COMMIT DROP AS
        SELECT i.* FROM import_events i
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = p_room_id AND e.event_id = i.event_id);

    IF NOT v_created THEN
        IF NOT EXISTS (SELECT 1 FROM appended) THEN
            outcome := 'already_imported';
            new_events := 0;
            SELECT * INTO state_events, joined_members, forward_extremities FROM import_room_totals(p_room_id);
            RETURN;
        END IF;
        -- Another history: a second create event, or an event citing one neither held nor imported.
        IF EXISTS (SELECT 1 FROM appended WHERE type = 'm.room.create' AND state_key = '')
           OR EXISTS (SELECT 1 FROM appended a, unnest(a.prev_events || a.auth_events) AS r(event_id)
                      WHERE NOT EXISTS (SELECT 1 FROM import_events i WHERE i.event_id = r.event_id)
                        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = p_room_id AND e.event_id = r.event_id))
        THEN
            outcome := 'room_has_other_events';
            RETURN;
        END IF;
        SELECT x.event_id, x.cur_event INTO conflict_event_id, conflicting_event_id
            FROM (SELECT a.event_id, a.position, a.auth_events, a.prev_events,
                         COALESCE(lag(a.event_id) OVER (PARTITION BY a.state_key ORDER BY a.position), m.event_id) AS cur_event
                  FROM appended a
                  LEFT JOIN memberships m ON m.room_id = p_room_id AND m.user_id = a.state_key
                  WHERE a.type = 'm.room.member') x
            WHERE x.cur_event IS NOT NULL AND NOT (x.cur_event = ANY (x.auth_events) OR x.cur_event = ANY (x.prev_events))
            ORDER BY x.position LIMIT 1;
        IF conflict_event_id IS NOT NULL THEN
            outcome := 'conflict';
            RETURN;
        END IF;
    END IF;

    -- Stream positions in commit order across rooms (README.md, "Event stream").
    PERFORM pg_advisory_xact_lock(7463701);
    INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                        membership, prev_events, auth_events, pdu)
        SELECT p_room_id, event_id, type, state_key, sender, depth, origin_server_ts,
               membership, prev_events, auth_events, pdu
        FROM appended ORDER BY position;
    GET DIAGNOSTICS new_events = ROW_COUNT;
    SELECT e.stream_ordering, e.event_id INTO stream_position, last_event_id
        FROM events e WHERE e.room_id = p_room_id ORDER BY e.stream_ordering DESC LIMIT 1;

    IF v_created THEN
        INSERT INTO current_state (room_id, type, state_key, event_id)
            SELECT p_room_id, i.type, i.state_key, i.event_id
            FROM import_events i JOIN unnest(p_state) AS s(event_id) USING (event_id);
        INSERT INTO memberships (room_id, user_id, membership, event_id)
            SELECT p_room_id, i.state_key, i.membership, i.event_id
            FROM import_events i JOIN unnest(p_state) AS s(event_id) USING (event_id)
            WHERE i.type = 'm.room.member';
        outcome := 'imported';
    ELSE
        -- The appended state events replace the entries they name, the last of each key winning.
        INSERT INTO current_state (room_id, type, state_key, event_id)
            SELECT DISTINCT ON (type, state_key) p_room_id, type, state_key, event_id
            FROM appended WHERE state_key IS NOT NULL ORDER BY type, state_key, position DESC
            ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id;
        INSERT INTO memberships (room_id, user_id, membership, event_id)
            SELECT DISTINCT ON (state_key) p_room_id, state_key, membership, event_id
            FROM appended WHERE type = 'm.room.member' AND state_key IS NOT NULL ORDER BY state_key, position DESC
            ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id;
        DELETE FROM forward_extremities f
            USING (SELECT DISTINCT unnest(prev_events) AS event_id FROM appended) c
            WHERE f.room_id = p_room_id AND f.event_id = c.event_id;
        outcome := 'appended';
    END IF;

    INSERT INTO room_joined_servers AS r (room_id, server_name, joined_members, since_position)
        SELECT p_room_id, user_server(user_id), count(*), stream_position
        FROM memberships WHERE room_id = p_room_id AND membership = 'join'
        GROUP BY 2
        ON CONFLICT (room_id, server_name) DO UPDATE
            SET joined_members = EXCLUDED.joined_members,
                since_position = CASE WHEN r.joined_members = 0 THEN EXCLUDED.since_position ELSE r.since_position END,
                left_position  = CASE WHEN r.joined_members = 0 THEN NULL ELSE r.left_position END;
    UPDATE room_joined_servers r SET joined_members = 0, left_position = coalesce(r.left_position, stream_position)
        WHERE r.room_id = p_room_id AND r.joined_members > 0
          AND NOT EXISTS (SELECT 1 FROM memberships m
                          WHERE m.room_id = p_room_id AND m.membership = 'join' AND user_server(m.user_id) = r.server_name);
    INSERT INTO forward_extremities (room_id, event_id)
        SELECT p_room_id, event_id FROM appended
        EXCEPT
        SELECT p_room_id, unnest(prev_events) FROM appended
        ON CONFLICT DO NOTHING;

    SELECT * INTO state_events, joined_members, forward_extremities FROM import_room_totals(p_room_id);
END
$$;

-- The homeserver feed (GET /_leave_worker/v1/events, `leave-worker events follow`) reads the events
-- the fleet accepted (`events.accepted`, 0008) in stream order; the partial index keeps a feed far
-- behind from scanning the imported history.
CREATE INDEX events_accepted_stream ON events (stream_ordering) WHERE accepted;
