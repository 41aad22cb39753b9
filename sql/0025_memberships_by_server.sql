-- Whether a server has (or had) a member in a room, by an index probe: `GET
-- /_matrix/federation/v1/event` asks it on every request (RoomStore.hasMember), and with only the
-- (room_id, user_id) key the question read every membership row of the room and filtered them by
-- server — for a server with no member, which is answered 404 anyway, all of them (measured:
-- 26.7–28.3 ms and 1,299 buffers per call in a room of 100,000 members; any authenticated server
-- could ask it at its rate limit). A leave changes a member's `membership`, never its `user_id`,
-- so its update stays HOT (0012).
CREATE INDEX memberships_by_server ON memberships (room_id, user_server(user_id));

-- The question, planned with sequential scans disabled, as store_leaves' statements and
-- deepest_extremities (0014, 0017): by the table's statistics a room whose members are mostly of
-- one server makes `user_server(user_id) = $2` look unselective, and the generic plan scanned the
-- table for every server (measured on a room of 3,000 members of one server: a sequential scan,
-- 3,000 rows discarded for a server with none). A SET clause holds whatever the connection's
-- settings (behind a transaction pooler too).
CREATE FUNCTION room_has_member_of(p_room_id text, p_server text)
RETURNS boolean
LANGUAGE plpgsql STABLE STRICT
SET enable_seqscan = off
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM memberships WHERE room_id = p_room_id AND user_server(user_id) = p_server);
END
$$;
