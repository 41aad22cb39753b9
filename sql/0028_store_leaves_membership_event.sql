-- store_leaves compares the member's membership *event*, not only its value (found by review,
-- 2026-12-06): a leave decided against `join` by $j1 was stored after the homeserver's push of a
-- kick and a rejoin ($j2, `join` again) had landed in between — over a membership the decision
-- never saw, and the homeserver's next push for that member, built on $j2, then conflicted.
-- leave_input gains `expected_membership_event`: the member event the decision read (NULL: the
-- member had none, or a worker of the previous version's call, which compares the value alone as
-- before). The rest of store_leaves_input and store_leaves is 0024's.

ALTER TYPE leave_input ADD ATTRIBUTE expected_membership_event text;

-- The batch as leave_input rows with their 1-based position n, the PDU from p_pdus[n] when given.
-- The row lists leave_input's attributes in their order (sql/0009, and the one above).
CREATE OR REPLACE FUNCTION store_leaves_input(p_leaves json, p_pdus text[])
RETURNS TABLE (leave leave_input, n bigint)
LANGUAGE sql STABLE
AS $$
    SELECT row(l.room_id, l.event_id, l.type, l.state_key, l.sender, l.depth, l.origin_server_ts, l.membership,
               l.prev_events, l.auth_events, coalesce(p_pdus[l.ordinality], l.pdu), l.expected_membership,
               l.expected_membership_event)::leave_input,
           l.ordinality
    FROM json_populate_recordset(NULL::leave_input, p_leaves) WITH ORDINALITY AS l
$$;

CREATE OR REPLACE FUNCTION store_leaves(p_leaves json, p_pdus text[] DEFAULT NULL, p_distinct boolean DEFAULT false)
RETURNS TABLE (leave_index bigint, outcome text, stream_position bigint, current_membership text)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
DECLARE
    v_rows   leave_batch_row[];  -- the batch, parsed once
    v_rounds bigint[];           -- its rounds, ascending (below)
    v_other  boolean;            -- some leave is not an m.room.member leave
    v_rooms  text[];             -- the batch's rooms that exist, locked
    v_round  bigint;
BEGIN
    PERFORM require_read_committed('store_leaves');
    IF p_distinct THEN
        -- The caller vouches that no event ID and no member occurs twice: one round, 0.
        SELECT array_agg(row(b.leave, b.n, 0)::leave_batch_row),
               bool_or((b.leave).type IS DISTINCT FROM 'm.room.member' OR (b.leave).membership IS DISTINCT FROM 'leave'
                       OR (b.leave).state_key IS NULL)
            INTO v_rows, v_other
            FROM store_leaves_input(p_leaves, p_pdus) b;
        v_rounds := CASE WHEN v_rows IS NULL THEN '{}' ELSE '{0}' END;
    ELSE
        SELECT array_agg(row(b.leave, b.n, b.round)::leave_batch_row), array_agg(DISTINCT b.round ORDER BY b.round),
               bool_or((b.leave).type IS DISTINCT FROM 'm.room.member' OR (b.leave).membership IS DISTINCT FROM 'leave'
                       OR (b.leave).state_key IS NULL)
            INTO v_rows, v_rounds, v_other
            FROM store_leaves_rounds(p_leaves, p_pdus) b;
    END IF;
    IF v_other THEN
        RAISE EXCEPTION 'store_leaves stores m.room.member leave events only'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Per-room serialisation, rooms in ascending order (no cycles between batches), held to
    -- commit; then the stream lock, shared: before any stream position. A room not locked here
    -- does not exist: its leaves are unknown_room.
    v_rooms := ARRAY(SELECT room_id FROM rooms
                     WHERE room_id = ANY (ARRAY(SELECT (r.leave).room_id FROM unnest(v_rows) r))
                     ORDER BY room_id FOR NO KEY UPDATE);
    PERFORM pg_advisory_xact_lock_shared(7463701);

    -- Round 0: every leave whose event ID and member are the batch's first; then each other leave
    -- alone, in order — one statement per table can write a key only once.
    FOREACH v_round IN ARRAY coalesce(v_rounds, '{}') LOOP
        RETURN QUERY
        WITH judged AS (
            SELECT r.leave AS l, r.n, m.membership AS held, CASE
                WHEN (r.leave).room_id = ANY (v_rooms) IS NOT TRUE THEN 'unknown_room'
                WHEN x.room_id IS NOT NULL THEN
                    CASE WHEN x.room_id = (r.leave).room_id THEN 'already_stored' ELSE 'event_id_in_other_room' END
                WHEN m.membership IS DISTINCT FROM (r.leave).expected_membership
                  OR ((r.leave).expected_membership_event IS NOT NULL
                      AND m.event_id IS DISTINCT FROM (r.leave).expected_membership_event) THEN 'membership_changed'
                ELSE 'stored' END AS verdict
            FROM unnest(v_rows) r
            LEFT JOIN LATERAL (SELECT e.room_id FROM events e WHERE e.event_id = (r.leave).event_id LIMIT 1) x ON true
            LEFT JOIN LATERAL (SELECT s.membership, s.event_id FROM memberships s
                               WHERE s.room_id = (r.leave).room_id AND s.user_id = (r.leave).state_key LIMIT 1) m ON true
            WHERE r.round = v_round),
        stored AS (
            INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts,
                                membership, prev_events, auth_events, pdu, accepted)
                SELECT (j.l).room_id, (j.l).event_id, (j.l).type, (j.l).state_key, (j.l).sender, (j.l).depth,
                       (j.l).origin_server_ts, (j.l).membership, (j.l).prev_events, (j.l).auth_events, (j.l).pdu, true
                FROM judged j WHERE j.verdict = 'stored' ORDER BY (j.l).room_id, j.n
                RETURNING events.room_id, events.event_id, events.type, events.state_key, events.membership,
                          events.prev_events, events.depth, events.stream_ordering),
        member AS (
            INSERT INTO memberships (room_id, user_id, membership, event_id)
                SELECT s.room_id, s.state_key, s.membership, s.event_id FROM stored s
                ON CONFLICT (room_id, user_id) DO UPDATE
                    SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id),
        state AS (
            INSERT INTO current_state (room_id, type, state_key, event_id)
                SELECT s.room_id, s.type, s.state_key, s.event_id FROM stored s
                ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id),
        -- The leaves' prev events stop being extremities (one whole-key probe each); the leaves
        -- become extremities unless another leave of the batch cites them.
        cited AS (
            DELETE FROM forward_extremities f
                USING (SELECT s.room_id, unnest(s.prev_events) AS event_id FROM stored s) p
                WHERE f.room_id = p.room_id AND f.event_id = p.event_id),
        extremity AS (
            INSERT INTO forward_extremities (room_id, event_id, depth, stream_ordering)
                SELECT s.room_id, s.event_id, s.depth, s.stream_ordering FROM stored s
                WHERE NOT EXISTS (SELECT 1 FROM stored o WHERE o.room_id = s.room_id AND s.event_id = ANY (o.prev_events))),
        -- One fewer joined member per leave of a joined member; the leave that empties a server's
        -- row records its position.
        servers AS (
            UPDATE room_joined_servers rs
                SET joined_members = rs.joined_members - g.leaves,
                    left_position = CASE WHEN rs.joined_members = g.leaves THEN g.last ELSE rs.left_position END
                FROM (SELECT s.room_id, user_server(s.state_key) AS server_name, count(*) AS leaves,
                             max(s.stream_ordering) AS last
                      FROM stored s JOIN judged j ON (j.l).event_id = s.event_id
                      WHERE (j.l).expected_membership = 'join'
                      GROUP BY 1, 2) g
                WHERE rs.room_id = g.room_id AND rs.server_name = g.server_name)
        SELECT j.n, j.verdict, s.stream_ordering,
               CASE WHEN j.verdict = 'membership_changed' THEN j.held END
        FROM judged j LEFT JOIN stored s ON s.event_id = (j.l).event_id AND j.verdict = 'stored';
    END LOOP;
END
$$;
