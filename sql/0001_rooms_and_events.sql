-- Rooms, their events and the state those events produce.
-- Every per-room table is keyed by room_id first so that it can be distributed by
-- room_id (see README.md, "Citus"). Identifiers are Matrix IDs as text (≤ 255 bytes).
-- The tables that point at events (current_state, memberships, forward_extremities, outbox)
-- have no foreign key to them: they are written only by store_leave and import_room, in the
-- event's own transaction, and the per-row checks cost 10-25% of the leave transaction's CPU
-- (README.md, "Schema").

CREATE TABLE rooms (
    room_id      text PRIMARY KEY,
    room_version text NOT NULL
);

-- Stream positions: allocated inside the room lock, so they follow commit order within a room.
CREATE SEQUENCE event_stream_ordering AS bigint;

CREATE TABLE events (
    room_id          text   NOT NULL REFERENCES rooms (room_id),
    event_id         text   NOT NULL,
    stream_ordering  bigint NOT NULL DEFAULT nextval('event_stream_ordering'),
    type             text   NOT NULL,
    state_key        text,
    sender           text   NOT NULL,
    depth            bigint NOT NULL,
    origin_server_ts bigint NOT NULL,
    membership       text,                 -- content.membership of m.room.member events
    prev_events      text[] NOT NULL,
    auth_events      text[] NOT NULL,
    pdu              text   NOT NULL,      -- the PDU exactly as stored and served (JSON text)
    PRIMARY KEY (room_id, event_id)
);
-- GET /event/{eventId} knows no room: a global lookup (one index here; see README.md for Citus).
CREATE UNIQUE INDEX events_event_id ON events (event_id);
-- Stream consumers read events after a position.
CREATE UNIQUE INDEX events_stream_ordering ON events (stream_ordering);

-- (type, state_key) → event for the room's current state.
CREATE TABLE current_state (
    room_id   text NOT NULL,
    type      text NOT NULL,
    state_key text NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);

-- Each user's current membership, one row per (room, user): the leave transaction upserts it.
CREATE TABLE memberships (
    room_id    text NOT NULL,
    user_id    text NOT NULL,
    membership text NOT NULL CHECK (membership IN ('join', 'invite', 'leave', 'ban', 'knock')),
    event_id   text NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Events of the room that no other event cites as a prev_event (the DAG's leaves).
CREATE TABLE forward_extremities (
    room_id  text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- How many joined members each server has in each room (kept by the transactions that
-- change memberships): the servers a leave is forwarded to, without scanning memberships.
CREATE TABLE room_joined_servers (
    room_id        text    NOT NULL,
    server_name    text    NOT NULL,
    joined_members integer NOT NULL CHECK (joined_members >= 0),
    PRIMARY KEY (room_id, server_name)
);

-- The server part of a user ID: everything after the first ':'.
CREATE FUNCTION user_server(user_id text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN substr(user_id, strpos(user_id, ':') + 1);
