-- import_room: another user's membership event on a member (a ban, a kick) that does not build on
-- the member's self-leave the fleet accepted meanwhile supersedes it instead of being refused as a
-- conflict (found by review, 2026-12-06): the homeserver pushes its rooms' events as they come, and
-- a moderator's ban made on another server before the leave reached it cites the member's old
-- join. The homeserver cannot rebuild another server's event, so every later push of the room was
-- refused too (409) and the fleet answered from frozen state. State resolution gives the same
-- result: a ban or a kick is a power event, resolved first, and a self-leave from ban or leave is
-- not allowed. The member's own events (a rejoin made before the homeserver applied the leave)
-- still conflict: those the homeserver rebuilds on the leave. The rest of the body is 0027's.

CREATE OR REPLACE FUNCTION import_room(
    p_room_id      text,
    p_room_version text,
    p_events       json,
    p_state        text[],
    OUT outcome              text,    -- imported | appended | already_imported | room_has_other_events
                                      -- | version_mismatch | event_id_in_other_room | conflict
    OUT events               integer, -- events of the import (whether new or not)
    OUT new_events           integer, -- events this call stored
    OUT state_events         integer, -- when imported: the room's current state entries (else NULL)
    OUT joined_members       integer, -- when imported (else NULL)
    OUT forward_extremities  integer, -- when imported (else NULL)
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
    v_server  text;
    v_delta   bigint;
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
            FROM (SELECT a.event_id, a.position, a.auth_events, a.prev_events, a.sender, a.state_key,
                         lag(a.event_id) OVER (PARTITION BY a.state_key ORDER BY a.position) AS appended_before,
                         COALESCE(lag(a.event_id) OVER (PARTITION BY a.state_key ORDER BY a.position), m.event_id) AS cur_event
                  FROM appended a
                  LEFT JOIN memberships m ON m.room_id = p_room_id AND m.user_id = a.state_key
                  WHERE a.type = 'm.room.member') x
            WHERE x.cur_event IS NOT NULL AND NOT (x.cur_event = ANY (x.auth_events) OR x.cur_event = ANY (x.prev_events))
              -- Another user's act on the member (a ban, a kick) supersedes a self-leave the fleet
              -- accepted meanwhile, as state resolution has it: power events first, and the
              -- leave, from a ban or a kick, is then not allowed.
              AND NOT (x.appended_before IS NULL AND x.sender IS DISTINCT FROM x.state_key
                       AND EXISTS (SELECT 1 FROM events e
                                   WHERE e.room_id = p_room_id AND e.event_id = x.cur_event AND e.accepted
                                     AND e.membership = 'leave' AND e.sender = e.state_key))
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
        FROM appended a CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.room_id = p_room_id AND e.event_id = a.event_id LIMIT 1) e
        ORDER BY e.stream_ordering DESC LIMIT 1;

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
        -- Each server's joined members change by the appended membership events alone: a member's
        -- last appended membership against the one held before (read before the upsert below),
        -- applied row by row (whole-key statements, whatever the statistics). A server joining
        -- again starts after this append; one whose last member went keeps what it is owed up to
        -- here (the recount's rules: sql/README.md, "Forwarding").
        FOR v_server, v_delta IN
            SELECT d.server_name, d.delta FROM (
                SELECT user_server(f.state_key) AS server_name,
                       sum((f.membership = 'join')::integer - (coalesce(m.membership = 'join', false))::integer) AS delta
                FROM (SELECT DISTINCT ON (state_key) state_key, membership FROM appended
                      WHERE type = 'm.room.member' AND state_key IS NOT NULL ORDER BY state_key, position DESC) f
                CROSS JOIN LATERAL (SELECT (SELECT s.membership FROM memberships s
                                            WHERE s.room_id = p_room_id AND s.user_id = f.state_key LIMIT 1) AS membership) m
                GROUP BY 1) d
            WHERE d.delta <> 0
        LOOP
            UPDATE room_joined_servers r
                SET joined_members = r.joined_members + v_delta,
                    since_position = CASE WHEN r.joined_members = 0 THEN stream_position ELSE r.since_position END,
                    left_position  = CASE WHEN r.joined_members = 0 THEN NULL
                                          WHEN r.joined_members + v_delta = 0 THEN coalesce(r.left_position, stream_position)
                                          ELSE r.left_position END
                WHERE r.room_id = p_room_id AND r.server_name = v_server;
            IF NOT FOUND AND v_delta > 0 THEN
                INSERT INTO room_joined_servers (room_id, server_name, joined_members, since_position)
                    VALUES (p_room_id, v_server, v_delta, stream_position);
            END IF;
        END LOOP;
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
            WHERE f.room_id = p_room_id AND f.event_id = ANY (ARRAY(SELECT DISTINCT unnest(prev_events) FROM appended));
        outcome := 'appended';
    END IF;

    IF v_created THEN
        INSERT INTO room_joined_servers AS r (room_id, server_name, joined_members, since_position)
            SELECT p_room_id, user_server(user_id), count(*), stream_position
            FROM memberships WHERE room_id = p_room_id AND membership = 'join'
            GROUP BY 2
            ON CONFLICT (room_id, server_name) DO UPDATE
                SET joined_members = EXCLUDED.joined_members,
                    since_position = CASE WHEN r.joined_members = 0 THEN EXCLUDED.since_position ELSE r.since_position END,
                    left_position  = CASE WHEN r.joined_members = 0 THEN NULL ELSE r.left_position END;
    END IF;
    INSERT INTO forward_extremities (room_id, event_id)
        SELECT p_room_id, event_id FROM appended
        EXCEPT
        SELECT p_room_id, unnest(prev_events) FROM appended
        ON CONFLICT DO NOTHING;

    IF v_created THEN
        SELECT * INTO state_events, joined_members, forward_extremities FROM import_room_totals(p_room_id);
    END IF;
END
$$;

