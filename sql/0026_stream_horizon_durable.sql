-- A position becomes safe only once the WAL that records it is on disk. The sequence WAL-logs a
-- value (32 ahead) before handing it out, but that record reaches the disk only with a later
-- flush: the commit of the writer that made it, or of any later transaction that wrote WAL — not
-- its abort, nor a transaction that only read or only took a transaction ID (their commits are not
-- flushed).
--
-- Before, a crash of Postgres (no checkpoint, WAL not yet flushed lost) could take back positions
-- the horizon had reported: the sequence restarted below them and handed them out again, while
-- a worker's candidate from before the crash — its writers gone with the crash — was promoted to
-- the safe point, and destinations' positions passed it. The events that then took those positions
-- were below every reader's position, never forwarded nor fed to the homeserver (reproduced with
-- an immediate stop: positions 1–5 reported, 1 handed out again after recovery;
-- StreamHorizonCrashTests).
--
-- Now stream_horizon() also reports the WAL's insert position after reading the sequence
-- (`wal_inserted`: past every record of the positions it read), how far the WAL is flushed
-- (`wal_flushed`) and when the server started (`server_started_us`). Storage.StreamHorizon
-- promotes a candidate only once a later read's `wal_flushed` has passed the candidate's
-- `wal_inserted`, and drops its candidates when `server_started_us` changes (after a restart,
-- WAL positions are those of another history). Under load commits flush the WAL continually, so
-- this costs nothing; when the caller says it waits for WAL not yet flushed (`p_wal_needed`), or
-- nobody is writing and the read's own position is not flushed yet, the function makes the flush
-- happen: one WAL record (a setval of its own sequence, updated in place: no row versions) and a
-- synchronous commit, after which `wal_flushed` counts as `wal_inserted`. A caller passing
-- nothing (the previous version's `SELECT "position", writers FROM stream_horizon()`) gets that
-- flush at every read: what it reports is on disk when it answers. (Flushing at every read
-- measured 11 % fewer send-only leaves a second, Postgres CPU per leave 0.23 → 0.28 ms.) A
-- failover to an asynchronous replica can lose flushed WAL, and committed leaves with it: that is
-- the replication's guarantee, not this function's.
CREATE SEQUENCE stream_horizon_flush;

DROP FUNCTION stream_horizon();

CREATE FUNCTION stream_horizon(
    p_wal_needed bigint DEFAULT NULL,
    OUT "position" bigint, OUT writers text[], OUT wal_inserted bigint, OUT wal_flushed bigint,
    OUT server_started_us bigint)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO "position"
        FROM event_stream_ordering s;
    SELECT coalesce(array_agg(l.virtualtransaction ORDER BY l.virtualtransaction), '{}') INTO writers
        FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = 0 AND l.objid = 7463701 AND l.objsubid = 1 AND l.granted;
    wal_inserted := (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint;
    wal_flushed := (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint;
    server_started_us := (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint;
    IF wal_flushed < greatest(coalesce(p_wal_needed, wal_inserted),
                              CASE WHEN writers = '{}' THEN wal_inserted ELSE 0 END) THEN
        -- A WAL record (and with it a transaction ID) makes the commit flush the WAL up to its
        -- own record, synchronously whatever the session's setting (SET LOCAL lasts to the commit).
        PERFORM setval('stream_horizon_flush', 1);
        SET LOCAL synchronous_commit = on;
        wal_flushed := wal_inserted;
    END IF;
END
$$;
