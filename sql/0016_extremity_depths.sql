-- make_leave's deepest forward extremities by one index-ordered read (sql/README.md, "Query
-- shapes"): each extremity row carries its event's depth and stream position, and the index
-- (room_id, depth DESC, stream_ordering DESC) hands out a room's deepest `limit` extremities whatever
-- the room's extremity count. The read used to join every extremity of the room to its event and
-- sort them: O(extremities) per make_leave — thousands in a room whose leaves all cite one stale
-- event (the load generator's send-only leaves), where templateContext averaged 0.145 ms.
--
-- The writers (store_leaves, import_room) insert (room_id, event_id) only and are left unchanged:
-- a statement-level AFTER INSERT trigger copies depth and stream_ordering from each new extremity's
-- event. AFTER the statement, because store_leaves inserts the event and its extremity in one
-- statement (data-modifying CTEs), where a row trigger could not see the event yet. The copy is
-- an UPDATE of the just-inserted row: one more row version and index entries per new extremity.
-- A writer that sets the columns itself leaves the trigger nothing to update (it updates only rows
-- whose depth is NULL).
--
-- An extremity whose event is missing keeps NULL columns and is left out of the partial index —
-- as the old read's join to events left it out.

ALTER TABLE forward_extremities ADD COLUMN depth bigint, ADD COLUMN stream_ordering bigint;

UPDATE forward_extremities f SET depth = e.depth, stream_ordering = e.stream_ordering
    FROM events e WHERE e.room_id = f.room_id AND e.event_id = f.event_id;

CREATE INDEX forward_extremities_deepest ON forward_extremities (room_id, depth DESC, stream_ordering DESC)
    WHERE depth IS NOT NULL;

CREATE FUNCTION forward_extremities_order() RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE forward_extremities f SET depth = e.depth, stream_ordering = e.stream_ordering
        FROM added a
        CROSS JOIN LATERAL (SELECT e.depth, e.stream_ordering FROM events e
                            WHERE e.room_id = a.room_id AND e.event_id = a.event_id LIMIT 1) e
        WHERE f.room_id = a.room_id AND f.event_id = a.event_id AND f.depth IS NULL;
    RETURN NULL;
END
$$;
-- Index probes on whole keys whatever the table sizes when a connection planned it (as 0014).
ALTER FUNCTION forward_extremities_order() SET enable_seqscan = off;
ALTER FUNCTION forward_extremities_order() SET enable_hashjoin = off;
ALTER FUNCTION forward_extremities_order() SET enable_mergejoin = off;

CREATE TRIGGER forward_extremities_order AFTER INSERT ON forward_extremities
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION forward_extremities_order();
