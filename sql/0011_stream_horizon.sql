-- The event stream without a global commit order (sql/README.md, "Event stream"): readers stop at a
-- safe point instead of writers committing one at a time.
--
-- Until now every transaction inserting events held pg_advisory_xact_lock(7463701) (0008) to its
-- commit, WAL flush included, so event writers committed one at a time and a reader that saw
-- position p saw every committed position below p. Now writers take the same lock SHARED (they
-- never wait for each other), after their room locks and before allocating any stream position,
-- and readers bound `… WHERE stream_ordering > $pos` by stream_horizon()'s safe point:
--
-- * stream_horizon() reads, in this order, (1) `position`: the last value the stream sequence
--   handed out (non-transactional: it includes positions of transactions still running), then
--   (2) `writers`: the virtual transaction IDs holding the stream lock now.
-- * Every position ≤ `position` was allocated by a transaction that held the shared lock before
--   (1); at (2) it either still held it — it is among `writers` — or had released it, which a
--   transaction does only after its commit (or abort) is visible. So once none of `writers`
--   holds the lock any more (a LATER stream_horizon() call no longer lists them: virtual
--   transaction IDs are never reused), every position ≤ `position` is final: committed and
--   visible to any later snapshot, or rolled back for ever. With no writers it is final at once.
-- * Only holders of the stream lock are waited for: an unrelated long transaction never stalls
--   the readers. Storage.StreamHorizon keeps the candidates (position, writers) and promotes them.
--
-- store_leaves and import_room are 0009's and 0010's bodies with the lock taken shared.

CREATE OR REPLACE FUNCTION store_leaves(p_leaves json)
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
    -- commit; then the stream lock, shared (this file's header): before any stream position.
    PERFORM 1 FROM rooms
        WHERE room_id IN (SELECT l.room_id FROM json_populate_recordset(NULL::leave_input, p_leaves) l)
        ORDER BY room_id FOR NO KEY UPDATE;
    PERFORM pg_advisory_xact_lock_shared(7463701);

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

CREATE OR REPLACE FUNCTION import_room(
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

    -- The stream lock, shared (this file's header): before any stream position.
    PERFORM pg_advisory_xact_lock_shared(7463701);
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

-- The stream's horizon: the last stream position handed out, and the stream lock's holders after
-- it was read (this file's header). Two statements, in this order: the sequence first.
CREATE FUNCTION stream_horizon(OUT "position" bigint, OUT writers text[])
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO "position"
        FROM event_stream_ordering s;
    SELECT coalesce(array_agg(l.virtualtransaction ORDER BY l.virtualtransaction), '{}') INTO writers
        FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = 0 AND l.objid = 7463701 AND l.objsubid = 1 AND l.granted;
END
$$;
