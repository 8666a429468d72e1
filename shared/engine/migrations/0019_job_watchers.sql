-- NOTIFY only where someone waits (issue 16). A job's events used to NOTIFY each one, and a
-- NOTIFY serialises every committing transaction that sent one on a cluster-wide lock. Now
-- an event notifies only when it leaves the job terminal (what ?wait= and blocking dialect
-- calls wait for) or when the job has a live watcher: an open SSE or Dragon stream registers
-- the job here (api/waiter.py, query watch_jobs) and renews the row while it stays open.
-- Beat deletes expired rows. No foreign key: a watcher of a deleted job is harmless, and
-- pruning a million jobs need not look here.
CREATE TABLE job_watchers (
    job_id bigint PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION job_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The event's status is the job's after it (shared/states.py's TERMINAL below).
    IF NEW.status IN ('succeeded', 'failed', 'canceled')
       OR EXISTS (SELECT 1 FROM job_watchers w WHERE w.job_id = NEW.job_id AND w.expires_at > now()) THEN
        PERFORM pg_notify('job_events', NEW.job_id::text || ':' || NEW.id::text);
    END IF;
    RETURN NULL;
END $$;
