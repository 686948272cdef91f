-- When each version of an order reached its row: one mark per version the projector
-- applied, {"v": version, "p": when the bus published it (null when the projector read it
-- from the store to fill a gap), "r": when the row reflected it, by the database's clock}.
-- Read by the order timeline (OrderService.GetOrderTimeline); a rebuild starts them anew.
ALTER TABLE orders_view ADD COLUMN IF NOT EXISTS marks JSONB NOT NULL DEFAULT '[]';
