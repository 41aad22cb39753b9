-- store_leaves' plans no longer depend on the table sizes a connection first saw (sql/README.md,
-- "Query shapes"). The workers' connections keep one generic plan per statement, made the first
-- time the statement runs, until its tables' statistics change (ANALYZE, DDL): if a table is small
-- then, the planner scans it until the next ANALYZE — and a table growing fast outruns autovacuum.
-- Found in a send-only run (8 rooms, the generator's leaves all cite one stale event, so every
-- leave stays a forward extremity): the DELETE of the cited extremities ran as a hash join over a
-- sequential scan of all of forward_extremities — 22.8 million rows read for 56,000 leaves, a cost
-- that grows with every extremity of every room — and the room lock as a sequential scan of rooms
-- (one per batch: O(rooms held)). Now:
--  * the function runs with enable_seqscan, enable_hashjoin and enable_mergejoin off (its SET
--    clause, this function only): every table access is an index probe on a whole key whatever the
--    statistics said when the plan was made; the joins between the batch's own rows (≤ 32) are
--    nested loops;
--  * the room lock returns the rooms it locked, and "no such room" is judged from that array
--    instead of one more probe of rooms per leave.
-- The body is 0013's otherwise.

CREATE OR REPLACE FUNCTION store_leaves(p_leaves json)
RETURNS TABLE (leave_index bigint, outcome text, stream_position bigint, current_membership text)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_round bigint;
    -- The batch's rooms that exist, locked.
    v_rooms text[];
    -- The batch, parsed once (each statement below used to parse the JSON again).
    v_rows  leave_batch_row[];
BEGIN
    PERFORM require_read_committed('store_leaves');
    v_rows := ARRAY(SELECT row(b.leave, b.n, b.round)::leave_batch_row FROM store_leaves_rounds(p_leaves) b);
    IF EXISTS (SELECT 1 FROM unnest(v_rows) r CROSS JOIN LATERAL (SELECT (r.leave).*) l
               WHERE l.type IS DISTINCT FROM 'm.room.member' OR l.membership IS DISTINCT FROM 'leave'
                  OR l.state_key IS NULL) THEN
        RAISE EXCEPTION 'store_leaves stores m.room.member leave events only'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Per-room serialisation, rooms in ascending order (no cycles between batches), held to
    -- commit; then the stream lock, shared (this file's header): before any stream position.
    v_rooms := ARRAY(SELECT room_id FROM rooms
                     WHERE room_id IN (SELECT (r.leave).room_id FROM unnest(v_rows) r)
                     ORDER BY room_id FOR NO KEY UPDATE);
    PERFORM pg_advisory_xact_lock_shared(7463701);

    -- Round 0: every leave whose event ID and member are the batch's first; then each other leave
    -- alone, in order — one statement per table can write a key only once.
    FOR v_round IN
        SELECT DISTINCT r.round FROM unnest(v_rows) r ORDER BY 1
    LOOP
        RETURN QUERY
        WITH batch AS (
            SELECT (r.leave).*, r.n FROM unnest(v_rows) r WHERE r.round = v_round),
        judged AS (
            SELECT b.*, m.membership AS held, CASE
                WHEN NOT coalesce(b.room_id = ANY (v_rooms), false) THEN 'unknown_room'
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
