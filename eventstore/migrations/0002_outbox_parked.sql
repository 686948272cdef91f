-- Events the bus refused for good (a message over its size limit, say), taken out of the
-- outbox so that everything after them flows: parked with the reason, until an operator
-- requeues them (`ordersaga outbox requeue`). `ordersaga verify` lists them.
CREATE TABLE IF NOT EXISTS event_outbox_parked (
    position  INT8        NOT NULL,
    reason    TEXT        NOT NULL,
    parked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT event_outbox_parked_pkey PRIMARY KEY (position)
);
