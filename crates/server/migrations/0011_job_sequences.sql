-- Jobs that must run in order: those sharing a `sequence_key` (an outbound webhook
-- endpoint and a recording) run one at a time, by `sequence`, each only once every
-- earlier one is done or dead.
ALTER TABLE jobs ADD COLUMN sequence_key TEXT NULL;
ALTER TABLE jobs ADD COLUMN sequence BIGINT NULL;
CREATE INDEX jobs_sequence ON jobs (sequence_key, sequence);
