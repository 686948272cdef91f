-- The append-only event log. Written only by Append; rows are never updated or deleted.
-- Every statement is accepted by both CockroachDB and PostgreSQL.
CREATE TABLE IF NOT EXISTS events (
    stream_id   TEXT        NOT NULL,
    version     INT8        NOT NULL,
    -- Global position: unique and increasing, but neither gap-free nor committed in order
    -- (a PostgreSQL sequence is drawn before commit; CockroachDB uses unique_rowid()).
    position    BIGSERIAL   NOT NULL,
    event_id    UUID        NOT NULL,
    stream_type TEXT        NOT NULL,
    event_type  TEXT        NOT NULL,
    data        JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Reading a stream in version order. Keyed by stream rather than position so that
    -- CockroachDB spreads writes over ranges instead of appending to one hot range.
    CONSTRAINT events_pkey PRIMARY KEY (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    -- Reading all events after a position.
    CONSTRAINT events_position_key UNIQUE (position),
    CONSTRAINT events_version_positive CHECK (version > 0)
);

-- Reading all events of some types after a position.
CREATE INDEX IF NOT EXISTS events_type_position_idx ON events (event_type, position);

-- The transactional outbox: one row per committed event not yet published on the bus.
-- Inserted in the same transaction as the event, deleted once the bus acknowledged it.
CREATE TABLE IF NOT EXISTS event_outbox (
    position INT8 NOT NULL,
    CONSTRAINT event_outbox_pkey PRIMARY KEY (position)
);
