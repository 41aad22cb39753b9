-- Deliveries of accepted events to other servers, written in the same transaction as the
-- event, and each destination's back-off, shared by every worker (README.md, "Outbox").
CREATE TABLE outbox (
    room_id         text        NOT NULL,
    event_id        text        NOT NULL,
    destination     text        NOT NULL CHECK (destination <> '' AND octet_length(destination) <= 255),
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    sent_at         timestamptz,
    PRIMARY KEY (room_id, event_id, destination)
);
CREATE INDEX outbox_pending ON outbox (destination, next_attempt_at) WHERE state = 'pending';

CREATE TABLE destinations (
    destination     text        PRIMARY KEY,
    failures        integer     NOT NULL DEFAULT 0,
    retry_at        timestamptz,           -- backed off until then (NULL: not backed off)
    last_error      text,
    last_failure_at timestamptz,
    last_success_at timestamptz
);
