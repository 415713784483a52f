-- Why a recording stopped when nobody pressed stop: 'limit' when the maximum duration
-- (the service's own or LiveKit's) ended it. Pages use it to tell participants why.
ALTER TABLE recordings ADD COLUMN stop_reason TEXT NULL;
