-- Read models built from the event store by the projectors. Each row carries the version
-- of its stream that it reflects: the row and its version commit in one transaction.
CREATE TABLE IF NOT EXISTS orders_view (
    order_id      TEXT        NOT NULL,
    customer_id   TEXT        NOT NULL,
    restaurant_id TEXT        NOT NULL,
    status        TEXT        NOT NULL,
    items         JSONB       NOT NULL,
    amount        INT8        NOT NULL,
    currency      TEXT        NOT NULL,
    reason        TEXT        NOT NULL DEFAULT '',
    version       INT8        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT orders_view_pkey PRIMARY KEY (order_id)
);
CREATE INDEX IF NOT EXISTS orders_view_customer_idx ON orders_view (customer_id, order_id);
CREATE INDEX IF NOT EXISTS orders_view_restaurant_idx ON orders_view (restaurant_id, order_id);
CREATE INDEX IF NOT EXISTS orders_view_status_idx ON orders_view (status, order_id);

CREATE TABLE IF NOT EXISTS customer_balances (
    customer_id TEXT        NOT NULL,
    balance     INT8        NOT NULL,
    currency    TEXT        NOT NULL,
    version     INT8        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT customer_balances_pkey PRIMARY KEY (customer_id)
);

-- Messages that could not be applied, with their payload, for a human to look at.
CREATE TABLE IF NOT EXISTS projection_dead_letters (
    event_id    UUID        NOT NULL,
    stream_id   TEXT        NOT NULL,
    version     INT8        NOT NULL,
    event_type  TEXT        NOT NULL,
    payload     TEXT        NOT NULL,
    error       TEXT        NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT projection_dead_letters_pkey PRIMARY KEY (event_id)
);
