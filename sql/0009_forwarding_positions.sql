-- Forwarding by per-destination stream positions instead of an outbox row per delivery, and the
-- leave transaction as one set-based statement per table (sql/README.md, "Forwarding" and
-- "store_leaves").
--
-- Accepting a leave now writes the event and the room's state only: the same rows whether the room
-- spans 2 servers or 2,000. Which servers receive an accepted event, and how far each has got, is
-- the federation sender's business:
--
-- * `destinations.stream_position`: every accepted event at or below it that is due to the
--   destination has been delivered (Synapse's `destinations.last_successful_stream_ordering`).
-- * An accepted event e of room r is due to server s when s ≠ this server, s did not send e, and
--   s has a `room_joined_servers` row for r with e.stream_ordering > its since_position and
--   (joined_members > 0, or e.stream_ordering < its left_position: s's last member left after e).
--   That is "the servers with a joined member after the leave, minus us and the leave's origin",
--   as the outbox rows said, computed when sending instead of when accepting.
-- * A sender claims a destination with a lease (`lease_until`, `lease_owner`), sends one
--   transaction of ≤ 50 of its due events in stream order, then advances `stream_position` and
--   clears the lease — one statement each. The stream lock (0008) makes the stream gap-free.

-- One definition of a stored leave's fields: store_leaves reads its JSON argument with
-- json_populate_recordset(NULL::leave_input, …); the worker builds that JSON from one table of
-- these names (Sources/Storage/LeaveInput.swift). A new column: one edit here, one there.
CREATE TYPE leave_input AS (
    room_id             text,
    event_id            text,
    type                text,
    state_key           text,
    sender              text,
    depth               bigint,
    origin_server_ts    bigint,
    membership          text,
    prev_events         text[],
    auth_events         text[],
    pdu                 text,
    expected_membership text      -- the membership the leave was validated against
);

-- When an event was stored (for the oldest-pending gauge); NULL for events stored before 0009.
ALTER TABLE events ADD COLUMN stored_at timestamptz;
ALTER TABLE events ALTER COLUMN stored_at SET DEFAULT now();
-- A destination's due events, per room in stream order (only accepted events are ever forwarded).
CREATE INDEX events_accepted_room_stream ON events (room_id, stream_ordering) WHERE accepted;

-- Where a server's membership of a room starts and ends on the stream (see the rule above).
-- since_position: events at or below it are not the server's (0: from the room's import — nothing
-- accepted precedes an import). left_position: set by the leave that took joined_members to 0.
ALTER TABLE room_joined_servers
    ADD COLUMN since_position bigint NOT NULL DEFAULT 0,
    ADD COLUMN left_position  bigint;
-- Updated in place on every leave of a joined member: leave room for HOT updates.
ALTER TABLE room_joined_servers SET (fillfactor = 80);
-- The rooms a destination shares with us.
CREATE INDEX room_joined_servers_server ON room_joined_servers (server_name, room_id);

ALTER TABLE destinations
    ADD COLUMN stream_position bigint NOT NULL DEFAULT 0,
    ADD COLUMN lease_until     timestamptz,
    ADD COLUMN lease_owner     text;
ALTER TABLE destinations SET (fillfactor = 80);

-- From the outbox: a server with pending deliveries starts just before its oldest pending event
-- (what follows is sent again: at-least-once); every other known server starts at the head (what
-- the outbox held for it was delivered). Then the outbox goes.
INSERT INTO destinations (destination, stream_position)
    SELECT server_name, (SELECT coalesce(max(stream_ordering), 0) FROM events)
    FROM (SELECT server_name FROM room_joined_servers UNION SELECT destination FROM outbox) s
ON CONFLICT (destination) DO UPDATE SET stream_position = EXCLUDED.stream_position;
UPDATE destinations d SET stream_position = p.oldest - 1
    FROM (SELECT o.destination, min(e.stream_ordering) AS oldest
          FROM outbox o JOIN events e ON e.room_id = o.room_id AND e.event_id = o.event_id
          WHERE o.state = 'pending' GROUP BY o.destination) p
    WHERE d.destination = p.destination;
DROP TABLE outbox;

DROP FUNCTION store_leaves(json);
DROP FUNCTION store_leave(text, text, text, text, text, bigint, bigint, text, text[], text[], text, text, text[], text[]);

-- Stores a batch of leaves in one transaction, one statement per table. One row per leave:
-- its 1-based position in p_leaves, and
--   outcome: stored | already_stored | membership_changed | unknown_room | event_id_in_other_room
--   stream_position (stored), current_membership (membership_changed; NULL: no membership).
-- Each leave's outcome is what storing the leaves one by one in ascending (room_id, position)
-- order would give: a leave repeating an earlier leave's event ID or member is judged after it.
CREATE FUNCTION store_leaves(p_leaves json)
RETURNS TABLE (leave_index bigint, outcome text, stream_position bigint, current_membership text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_round bigint;
BEGIN
    PERFORM require_read_committed('store_leaves');
    IF EXISTS (SELECT 1 FROM json_populate_recordset(NULL::leave_input, p_leaves) l
               WHERE l.type IS DISTINCT FROM 'm.room.member' OR l.membership IS DISTINCT FROM 'leave'
                  OR l.state_key IS NULL) THEN
        RAISE EXCEPTION 'store_leaves stores m.room.member leave events only'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Per-room serialisation, rooms in ascending order (no cycles between batches), held to
    -- commit; then the stream lock (0008), so positions commit in order.
    PERFORM 1 FROM rooms
        WHERE room_id IN (SELECT l.room_id FROM json_populate_recordset(NULL::leave_input, p_leaves) l)
        ORDER BY room_id FOR NO KEY UPDATE;
    PERFORM pg_advisory_xact_lock(7463701);

    -- Round 0: every leave whose event ID and member are the batch's first; then each other leave
    -- alone, in order — one statement per table can write a key only once.
    FOR v_round IN
        SELECT DISTINCT b.round FROM store_leaves_rounds(p_leaves) b ORDER BY 1
    LOOP
        RETURN QUERY
        WITH batch AS (
            SELECT (b.leave).*, b.n FROM store_leaves_rounds(p_leaves) b WHERE b.round = v_round),
        judged AS (
            SELECT b.*, m.membership AS held, CASE
                WHEN NOT EXISTS (SELECT 1 FROM rooms r WHERE r.room_id = b.room_id) THEN 'unknown_room'
                WHEN x.room_id IS NOT NULL THEN
                    CASE WHEN x.room_id = b.room_id THEN 'already_stored' ELSE 'event_id_in_other_room' END
                WHEN m.membership IS DISTINCT FROM b.expected_membership THEN 'membership_changed'
                ELSE 'stored' END AS verdict
            FROM batch b
            LEFT JOIN LATERAL (SELECT e.room_id FROM events e WHERE e.event_id = b.event_id LIMIT 1) x ON true
            LEFT JOIN LATERAL (SELECT s.membership FROM memberships s
                               WHERE s.room_id = b.room_id AND s.user_id = b.state_key LIMIT 1) m ON true),
        stored AS (
            INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                                membership, prev_events, auth_events, pdu, accepted)
                SELECT j.room_id, j.event_id, j.type, j.state_key, j.sender, j.depth, j.origin_server_ts,
                       j.membership, j.prev_events, j.auth_events, j.pdu, true
                FROM judged j WHERE j.verdict = 'stored' ORDER BY j.room_id, j.n
                RETURNING events.room_id, events.event_id, events.state_key, events.stream_ordering),
        member AS (
            INSERT INTO memberships (room_id, user_id, membership, event_id)
                SELECT j.room_id, j.state_key, j.membership, j.event_id FROM judged j WHERE j.verdict = 'stored'
                ON CONFLICT (room_id, user_id) DO UPDATE
                    SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id),
        state AS (
            INSERT INTO current_state (room_id, type, state_key, event_id)
                SELECT j.room_id, j.type, j.state_key, j.event_id FROM judged j WHERE j.verdict = 'stored'
                ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id),
        -- The leaves' prev events stop being extremities (one whole-key probe each); the leaves
        -- become extremities unless another leave of the batch cites them.
        cited AS (
            DELETE FROM forward_extremities f
                USING (SELECT j.room_id, unnest(j.prev_events) AS event_id FROM judged j WHERE j.verdict = 'stored') p
                WHERE f.room_id = p.room_id AND f.event_id = p.event_id),
        extremity AS (
            INSERT INTO forward_extremities (room_id, event_id)
                SELECT j.room_id, j.event_id FROM judged j
                WHERE j.verdict = 'stored'
                  AND NOT EXISTS (SELECT 1 FROM judged o WHERE o.verdict = 'stored' AND o.room_id = j.room_id
                                                          AND j.event_id = ANY (o.prev_events))),
        -- One fewer joined member per leave of a joined member; the leave that empties a server's
        -- row records its position (the rule at the top of this file).
        servers AS (
            UPDATE room_joined_servers rs
                SET joined_members = rs.joined_members - g.leaves,
                    left_position = CASE WHEN rs.joined_members = g.leaves THEN g.last ELSE rs.left_position END
                FROM (SELECT s.room_id, user_server(s.state_key) AS server_name, count(*) AS leaves,
                             max(s.stream_ordering) AS last
                      FROM stored s JOIN judged j ON j.event_id = s.event_id
                      WHERE j.expected_membership = 'join'
                      GROUP BY 1, 2) g
                WHERE rs.room_id = g.room_id AND rs.server_name = g.server_name)
        SELECT j.n, j.verdict, s.stream_ordering,
               CASE WHEN j.verdict = 'membership_changed' THEN j.held END
        FROM judged j LEFT JOIN stored s ON s.event_id = j.event_id AND j.verdict = 'stored';
    END LOOP;
END
$$;

-- The batch as leave_input rows with their 1-based position n and their round (see store_leaves).
CREATE FUNCTION store_leaves_rounds(p_leaves json)
RETURNS TABLE (leave leave_input, n bigint, round bigint)
LANGUAGE sql STABLE
AS $$
    SELECT row(l.*)::leave_input, i.n,
           CASE WHEN row_number() OVER (PARTITION BY l.event_id ORDER BY i.n) = 1
                 AND row_number() OVER (PARTITION BY l.room_id, l.state_key ORDER BY i.n) = 1
                THEN 0 ELSE i.n END
    FROM json_array_elements(p_leaves) WITH ORDINALITY AS i(leave, n)
    CROSS JOIN LATERAL json_populate_record(NULL::leave_input, i.leave) AS l
$$;
