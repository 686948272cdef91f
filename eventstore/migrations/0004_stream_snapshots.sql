-- Snapshots of streams that grow long (a customer's account): a fold of the stream's first
-- version events, so that a reader folds only what came after. A stream's events never
-- change, so a snapshot is never wrong, only behind; each stream keeps its latest one.
CREATE TABLE IF NOT EXISTS stream_snapshots (
    stream_id TEXT        NOT NULL,
    version   INT8        NOT NULL,
    state     JSONB       NOT NULL,
    taken_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT stream_snapshots_pkey PRIMARY KEY (stream_id),
    CONSTRAINT stream_snapshots_version_positive CHECK (version > 0)
);
