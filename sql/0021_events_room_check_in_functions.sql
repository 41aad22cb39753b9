-- events loses its foreign key to rooms (sql/README.md, "Schema"), as current_state, memberships
-- and forward_extremities never had one to events: every event is inserted by store_leaves or
-- import_room, and both make sure of its room in the same transaction — store_leaves inserts only
-- leaves of the rooms it has just locked (a leave of any other room is `unknown_room`), import_room
-- inserts the room's row before its events — and no statement deletes a room. The key's check ran
-- a query per inserted event (`SELECT 1 FROM ONLY rooms … FOR KEY SHARE`, from an AFTER trigger):
-- 4.6 % of store_leaves' instructions at 2 leaves a call, 6.9 % at 8 (sql/bench/instructions.sh:
-- 1,607,794 → 1,533,896 and 4,222,287 → 3,929,930). The storage tests check after their runs that
-- no event is without its room (StorageFixture.orphans), as they do for the other tables.

ALTER TABLE events DROP CONSTRAINT events_room_id_fkey;
