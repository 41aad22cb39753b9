-- make_leave's deepest forward extremities by one index-ordered read (sql/README.md, "Indexes, HOT
-- and JIT"): each extremity row carries its event's depth and stream position, and the index
-- (room_id, depth DESC, stream_ordering DESC) hands out a room's deepest `limit` extremities whatever
-- the room's extremity count. The read used to join every extremity of the room to its event and
-- sort them: O(extremities) per make_leave — thousands in a room whose leaves all cite one stale
-- event (the load generator's send-only leaves).
--
-- The writers (store_leaves, import_room) insert (room_id, event_id) only and are left unchanged
-- here (0016's store_leaves writes the two columns itself; import_room still relies on this): a
-- BEFORE INSERT row trigger copies depth and stream_ordering from the row's event — one index probe,
-- no second row version. It sees the event when the event was inserted by an earlier statement
-- (import_room) or earlier in the same statement (store_leaves' data-modifying CTEs run the events
-- INSERT first; a VOLATILE trigger function's queries see what the statement wrote so far). Where it
-- does not, the columns stay NULL and the read still finds the row: it takes the deepest `limit`
-- rows with a depth and every row without one (normally none; one index probe), joins them to their
-- events and orders those — the same answer either way.

ALTER TABLE forward_extremities ADD COLUMN depth bigint, ADD COLUMN stream_ordering bigint;

UPDATE forward_extremities f SET depth = e.depth, stream_ordering = e.stream_ordering
    FROM events e WHERE e.room_id = f.room_id AND e.event_id = f.event_id;

CREATE INDEX forward_extremities_deepest ON forward_extremities (room_id, depth DESC, stream_ordering DESC);

CREATE FUNCTION forward_extremity_order() RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    SELECT e.depth, e.stream_ordering INTO NEW.depth, NEW.stream_ordering
        FROM events e WHERE e.room_id = NEW.room_id AND e.event_id = NEW.event_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER forward_extremity_order BEFORE INSERT ON forward_extremities
    FOR EACH ROW WHEN (NEW.depth IS NULL) EXECUTE FUNCTION forward_extremity_order();
