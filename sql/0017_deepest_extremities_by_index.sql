-- make_leave's deepest forward extremities (0015's read) through a function that plans with
-- sequential scans disabled, as store_leaves' statements are (0014), so the read stays on
-- forward_extremities_deepest whatever the table's statistics say (sql/README.md, "Indexes, HOT
-- and JIT").
--
-- The table churns: every leave deletes the extremities it cites and inserts itself, so while few
-- rows live its indexes keep their high-water pages. By the planner's cost model an index probe
-- then reads (index pages / index tuples) pages at random_page_cost each — more than a whole
-- sequential scan of the heap. Measured on a local cluster after three 30 s pairs runs (25 live
-- rows, heap 97 pages, forward_extremities_deepest 660 pages, the primary key 684): the read's
-- generic plan scanned the table twice per make_leave (81 buffers a read on average), and its
-- Postgres time per call grew from 0.105 to 0.19 ms as the table grew between autovacuums. A SET
-- clause holds for the plans made inside the function whatever the connection's settings (behind
-- a transaction pooler too, where the workers send no session options).
CREATE FUNCTION deepest_extremities(p_room_id text, p_limit bigint)
RETURNS TABLE (extremity_id text)
LANGUAGE plpgsql STABLE ROWS 20
SET enable_seqscan = off
AS $$
BEGIN
    -- The deepest p_limit rows that carry their event's depth, and any row that does not
    -- (normally none; see 0015).
    RETURN QUERY
        (SELECT f.event_id FROM forward_extremities f WHERE f.room_id = p_room_id AND f.depth IS NOT NULL
         ORDER BY f.depth DESC, f.stream_ordering DESC LIMIT p_limit)
        UNION ALL
        SELECT f.event_id FROM forward_extremities f WHERE f.room_id = p_room_id AND f.depth IS NULL;
END
$$;
