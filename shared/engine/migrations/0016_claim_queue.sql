-- PostgreSQL is the queue (issue 16): workers claim jobs with FOR UPDATE SKIP LOCKED, round
-- robin across accounts within a priority, and a claim is a lease kept alive by the heartbeat.

-- The claim: per queue, each account's head (priority, then due time). The (queue, account_id)
-- prefix also serves the skip scan over the accounts that have jobs waiting.
CREATE INDEX jobs_claim ON jobs (queue, account_id, priority DESC, (coalesce(run_after, queued_at)), id)
    WHERE status = 'queued';
-- Fairness counts each account's running jobs on the queue; expired leases are found by queue.
CREATE INDEX jobs_running_by_account ON jobs (queue, account_id) WHERE status = 'running';
CREATE INDEX jobs_running_lease ON jobs (queue, heartbeat_at) WHERE status = 'running';
DROP INDEX IF EXISTS jobs_queued_dispatch;  -- messages are no longer re-published per job

-- Retention: beat prunes finished jobs, oldest first, in bounded batches.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
