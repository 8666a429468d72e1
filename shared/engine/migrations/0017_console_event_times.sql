-- The console's throughput and failure rate read the last hour of job_events by time. Events
-- are appended in time order, so a BRIN index finds that hour at almost no cost to inserts
-- (it summarises block ranges; a btree on a table this hot would cost every event a write).
CREATE INDEX job_events_at_brin ON job_events USING brin (at);
