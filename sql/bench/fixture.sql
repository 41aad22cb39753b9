-- Benchmark fixture for store_leave.pgbench (not a migration: the Migrator reads only sql/NNNN_*.sql).
--   psql -v rooms=50 -v members=200000 -f sql/bench/fixture.sql DB
-- :members joined members spread over :rooms rooms (member n in room n % :rooms, on server remote(n % 7)).
INSERT INTO rooms SELECT '!r' || r || ':bench', '10' FROM generate_series(0, :rooms - 1) r;
INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership, prev_events, auth_events, pdu)
    SELECT '!r' || (n % :rooms) || ':bench', '$join' || n, 'm.room.member', '@u' || n || ':remote' || (n % 7),
           '@u' || n || ':remote' || (n % 7), 2, 1700000000000, 'join', '{}', '{}', repeat('x', 900)
    FROM generate_series(1, :members) n;
INSERT INTO memberships
    SELECT '!r' || (n % :rooms) || ':bench', '@u' || n || ':remote' || (n % 7), 'join', '$join' || n
    FROM generate_series(1, :members) n;
INSERT INTO current_state
    SELECT '!r' || (n % :rooms) || ':bench', 'm.room.member', '@u' || n || ':remote' || (n % 7), '$join' || n
    FROM generate_series(1, :members) n;
INSERT INTO room_joined_servers
    SELECT room_id, user_server(user_id), count(*) FROM memberships GROUP BY 1, 2;
CREATE SEQUENCE bench_member;
VACUUM ANALYZE;
