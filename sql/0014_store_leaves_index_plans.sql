-- store_leaves' plans no longer depend on the table sizes a connection first saw (sql/README.md,
-- "Query shapes"). The workers' connections keep one generic plan per statement, made the first
-- time the statement runs, until its tables' statistics change (ANALYZE, DDL): if a table is small
-- then, the planner scans it until the next ANALYZE — and a table growing fast outruns autovacuum.
-- Found in a send-only run (8 rooms, the generator's leaves all cite one stale event, so every
-- leave stays a forward extremity): the DELETE of the cited extremities ran as a hash join over a
-- sequential scan of all of forward_extremities — 22.8 million rows read for 56,000 leaves, a cost
-- that grows with every extremity of every room — and the room lock as a sequential scan of rooms
-- (one per batch: O(rooms held)). Now the function runs with enable_seqscan, enable_hashjoin and
-- enable_mergejoin off (its own settings, this function only): every table access is an index
-- probe on a whole key whatever the statistics said when the plan was made, and the joins between
-- the batch's own rows (≤ 32) are nested loops. The body stays 0013's (ALTER, not a restatement).

ALTER FUNCTION store_leaves(json) SET enable_seqscan = off;
ALTER FUNCTION store_leaves(json) SET enable_hashjoin = off;
ALTER FUNCTION store_leaves(json) SET enable_mergejoin = off;
