-- depends: 0004.medication-checkup
-- Batch leases: the worker holding a running batch renews `lease_until` every few seconds; a batch whose lease
-- ran out (its worker was killed) is taken over within seconds, and every step checks `lease_owner` in its
-- transaction, so a worker that lost its lease never applies a step twice. Replaces the 2-minute
-- `heartbeat_at` staleness rule (the column stays, unused, for rows written before).

ALTER TABLE batches ADD COLUMN lease_owner uuid, ADD COLUMN lease_until timestamptz;
