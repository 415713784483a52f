-- Who besides its hosts sees a room's recordings (`owners`, `administrators` or
-- `members`): a copy of the room configuration's `recordings_visible_to`, kept as a column
-- so recording lists can filter on it.
ALTER TABLE rooms ADD COLUMN recordings_visible_to TEXT NOT NULL DEFAULT 'owners';
