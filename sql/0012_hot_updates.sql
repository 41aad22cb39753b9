-- Leave room for HOT updates in the two tables every accepted leave updates in place (sql/README.md,
-- "Indexes and HOT"): the member's `memberships` row and its `current_state` entry change only
-- non-indexed columns (membership, event_id), so the new row version can stay on its page without
-- a new index entry — when the page has room. Imported rooms fill their pages completely at the
-- default fillfactor (100): measured under a send-only load (8 rooms of 8,000 members), 31 % of
-- these updates were not HOT, each adding a primary-key entry (and later work for vacuum).
-- 0009 did the same for room_joined_servers and destinations. Applies to pages written from now
-- on (a room imported after this migration); existing pages keep their fill until rewritten.
ALTER TABLE memberships SET (fillfactor = 80);
ALTER TABLE current_state SET (fillfactor = 80);
