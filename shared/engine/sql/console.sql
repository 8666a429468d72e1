-- The web console's reads (api/console). Status names are bound from shared/engine/states.py.

-- console_key --
-- A signed-in session names its key by id: a revoked key ends the session at once.
SELECT k.id AS key_id, k.kind, a.id, a.name, a.role, a.referers, a.max_in_flight
FROM api_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.id = %(key_id)s AND k.revoked_at IS NULL;

-- console_revoke_key --
UPDATE api_keys SET revoked_at = now()
WHERE prefix = %(prefix)s AND account_id = %(account_id)s AND revoked_at IS NULL
RETURNING prefix, revoked_at;

-- console_queue_depths --
-- Active jobs per queue; %(account_id)s NULL (an admin) counts every account's.
SELECT queue,
       count(*) FILTER (WHERE status = %(scheduled)s::job_status) AS scheduled,
       count(*) FILTER (WHERE status = %(queued)s::job_status) AS queued,
       count(*) FILTER (WHERE status = %(running)s::job_status) AS running,
       min(queued_at) FILTER (WHERE status = %(queued)s::job_status) AS oldest_queued_at
FROM jobs
WHERE status = ANY(%(active)s::job_status[])
  AND (%(account_id)s::bigint IS NULL OR account_id = %(account_id)s::bigint)
GROUP BY queue ORDER BY queue;

-- console_throughput --
-- Runs that finished in the window, per queue and terminal status, from their events.
SELECT j.queue, e.status::text AS status, count(*) AS n
FROM job_events e JOIN jobs j ON j.id = e.job_id
WHERE e.at > now() - make_interval(secs => %(window_s)s)
  AND e.status = ANY(%(terminal)s::job_status[])
  AND (%(account_id)s::bigint IS NULL OR j.account_id = %(account_id)s::bigint)
GROUP BY j.queue, e.status ORDER BY j.queue;

-- console_running --
-- Running jobs with their last heartbeat: what the workers are doing right now.
SELECT j.public_id, j.type, j.queue, j.worker, j.started_at, j.heartbeat_at, j.progress,
       j.attempt, j.max_attempts, a.name AS account
FROM jobs j JOIN accounts a ON a.id = j.account_id
WHERE j.status = %(running)s::job_status
  AND (%(account_id)s::bigint IS NULL OR j.account_id = %(account_id)s::bigint)
ORDER BY j.started_at LIMIT 200;

-- console_accounts --
-- The admin's view across accounts: each account's keys, jobs in flight and last hour.
SELECT a.name, a.role, a.created_at, a.max_in_flight,
       (SELECT count(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL) AS keys,
       (SELECT count(*) FROM jobs j WHERE j.account_id = a.id AND j.status = ANY(%(active)s::job_status[])) AS in_flight,
       (SELECT count(*) FROM jobs j WHERE j.account_id = a.id AND j.status = %(failed)s::job_status
                                      AND j.finished_at > now() - make_interval(secs => %(window_s)s)) AS failed_recently
FROM accounts a ORDER BY a.name LIMIT 500;

-- queue_workers --
-- Worker processes (host:pid; the token's last part names one claim) seen by the heartbeat of
-- running jobs; GET /v1/queues. %(account_id)s NULL counts every account's.
SELECT regexp_replace(worker, ':[^:]*$', '') AS worker, array_agg(DISTINCT queue ORDER BY queue) AS queues,
       count(*) AS running, max(heartbeat_at) AS last_heartbeat_at
FROM jobs
WHERE status = %(running)s::job_status AND worker IS NOT NULL
  AND (%(account_id)s::bigint IS NULL OR account_id = %(account_id)s::bigint)
GROUP BY 1 ORDER BY 1;
