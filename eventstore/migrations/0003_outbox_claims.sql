-- Relays that share the outbox: a relay claims the rows it is about to publish for a lease
-- (Store.Claim), so that several relays divide the outbox instead of each publishing all of
-- it. A claim whose lease ran out (its relay died, or hangs) is anyone's again. Both
-- columns are NULL for a row no relay holds, as every row is when it is inserted.
ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS claimed_by TEXT;
ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS claimed_until TIMESTAMPTZ;
-- When the row was queued: its event's recorded_at (the same transaction's now()), or the
-- time of a requeue. The relay's grace period is read here, so that a claim walks the
-- outbox alone, in position order, instead of joining every row to the events table.
ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS queued_at TIMESTAMPTZ NOT NULL DEFAULT now();
