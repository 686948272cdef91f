-- When each order row took in its last event, by the database's clock (the clock that
-- stamps events' recorded_at): projected_at - updated_at is the projection lag.
ALTER TABLE orders_view ADD COLUMN IF NOT EXISTS projected_at TIMESTAMPTZ;
