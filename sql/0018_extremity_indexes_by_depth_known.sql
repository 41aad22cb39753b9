-- The DELETE of a leave's cited extremities in store_leaves (`f.room_id = … AND f.event_id = …`)
-- could be planned on forward_extremities_deepest (room_id, depth, stream_ordering) instead of the
-- primary key: the plan is made once per connection (plpgsql's generic plan, at a statement's sixth
-- run), early in a load when the table holds a few rows and both indexes cost the same — then each
-- probe read every extremity of the room. Measured in the runs that went at half speed (about one
-- send-only run in eight; scripts/ab.sh, 8 rooms × 12,000): forward_extremities_deepest scanned
-- 21,804 times reading 94.8 million index entries and as many heap rows (pg_stat_user_indexes),
-- Postgres 0.48–0.54 ms per leave; in the other runs it was not read at all, 0.23.
--
-- Now the depth index is partial (`depth IS NOT NULL`, the rows make_leave's deepest_extremities
-- reads in order): a condition on room and event ID does not imply its predicate, so the planner
-- cannot use it for that DELETE, whatever the statistics. The rows without a depth (normally none;
-- 0015) keep their own small partial index for deepest_extremities' second branch.

CREATE INDEX forward_extremities_deepest_known ON forward_extremities (room_id, depth DESC, stream_ordering DESC)
    WHERE depth IS NOT NULL;
CREATE INDEX forward_extremities_depth_unknown ON forward_extremities (room_id) WHERE depth IS NULL;
DROP INDEX forward_extremities_deepest;
