-- Several acquire workers share the pending files: each leases a few at a
-- time (until a deadline, so a killed worker's lease runs out).
ALTER TABLE file ADD COLUMN lease_owner TEXT;
ALTER TABLE file ADD COLUMN lease_until TEXT;
