-- Matrix identifiers compare byte for byte: every keyed identifier column takes the "C" collation
-- (sql/README.md, "Indexes, HOT and JIT"). Under the database's default collation each B-tree
-- comparison of two keys went through the locale: copy both into NUL-terminated buffers, strcoll,
-- then strcmp to break ties — "C" compares with memcmp, whatever collation the operator's database
-- was created with. Equality is the same either way (a deterministic collation's equality is
-- already bytewise); the keys' order is byte order, which is code point order for UTF-8.
--
-- Instructions per store_leaves call (sql/bench/instructions.sh, callgrind, generic plans):
--   database en_US.UTF-8: 2 leaves 2,049,163 → 1,751,037 (−14.5 %), 8 leaves 6,246,466 →
--                         4,837,419 (−22.6 %)
--   database C.UTF-8 (the project's scripts): 2 leaves 1,791,797 → 1,747,112 (−2.5 %), 8 leaves
--                         4,994,270 → 4,792,580 (−4.0 %)
--
-- A parameter or PL/pgSQL value of the default collation compared with one of these columns takes
-- the column's collation (an implicit non-default collation wins over the default), so every
-- existing comparison keeps using these indexes.
--
-- Cost of applying it: no table is rewritten (text to text is binary compatible), but each index
-- on these columns is rebuilt (and events' foreign key to rooms re-created), under an ACCESS
-- EXCLUSIVE lock on each table — on a large events table, minutes; apply it with the workers
-- stopped, as every migration (`serve` refuses to start while one is pending).

ALTER TABLE rooms
    ALTER COLUMN room_id TYPE text COLLATE "C";
ALTER TABLE events
    ALTER COLUMN room_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE current_state
    ALTER COLUMN room_id TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN state_key TYPE text COLLATE "C";
ALTER TABLE memberships
    ALTER COLUMN room_id TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE forward_extremities
    ALTER COLUMN room_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE room_joined_servers
    ALTER COLUMN room_id TYPE text COLLATE "C",
    ALTER COLUMN server_name TYPE text COLLATE "C";
ALTER TABLE destinations
    ALTER COLUMN destination TYPE text COLLATE "C";
ALTER TABLE server_keys
    ALTER COLUMN server_name TYPE text COLLATE "C",
    ALTER COLUMN key_id TYPE text COLLATE "C";
