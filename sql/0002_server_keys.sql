-- Remote servers' signing keys, fetched once and shared by every worker.
-- A small table not keyed by room: a reference table under Citus (see README.md).
CREATE TABLE server_keys (
    server_name    text   NOT NULL,
    key_id         text   NOT NULL,
    public_key     bytea  NOT NULL CHECK (octet_length(public_key) = 32),
    valid_until_ts bigint NOT NULL,
    expired_ts     bigint,                 -- set for old_verify_keys
    fetched_at     bigint NOT NULL,        -- ms since the epoch
    PRIMARY KEY (server_name, key_id)
);
