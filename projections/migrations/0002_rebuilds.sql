-- Progress of a read-model rebuild, so that a rebuild killed half-way resumes where it
-- stopped: the streams up to last_stream of stream_type are in the *_next tables.
CREATE TABLE IF NOT EXISTS projection_rebuilds (
    name        TEXT        NOT NULL,
    stream_type TEXT        NOT NULL,
    last_stream TEXT        NOT NULL,
    events      INT8        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT projection_rebuilds_pkey PRIMARY KEY (name)
);
