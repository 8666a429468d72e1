-- Jobs and their events. Every status change below is one statement: a conditional UPDATE
-- guarded by the transition's source states (bound from shared/engine/states.py as %(sources)s)
-- and its event row, in one transaction. A statement that matches no row changes nothing.

-- insert_jobs --
WITH new AS (
    INSERT INTO jobs (account_id, type, params, status, queue, priority, max_attempts,
                      start_at, run_after, queued_at, dispatched_at, callback_url, metadata,
                      idempotency_key)
    SELECT j.account_id, j.type, j.params,
           CASE WHEN j.start_at > now() THEN 'scheduled' ELSE 'queued' END::job_status,
           j.queue, j.priority, j.max_attempts, j.start_at, j.start_at,
           CASE WHEN j.start_at > now() THEN NULL ELSE now() END,
           CASE WHEN j.start_at > now() THEN NULL ELSE now() END,
           j.callback_url, coalesce(j.metadata, '{}'), %(idempotency_key)s
    FROM jsonb_to_recordset(%(jobs)s::jsonb) AS j(ord int, account_id bigint, type text, params jsonb, queue text,
         priority smallint, max_attempts int, start_at timestamptz, callback_url text, metadata jsonb)
    ORDER BY j.ord
    RETURNING *
), events AS (
    INSERT INTO job_events (job_id, type, status, run)
    SELECT id, 'created', status, run FROM new
)
SELECT * FROM new ORDER BY id;

-- get_job --
SELECT * FROM jobs WHERE public_id = %(public_id)s AND account_id = %(account_id)s;

-- get_job_by_id --
SELECT * FROM jobs WHERE id = %(job_id)s;

-- list_jobs --
SELECT * FROM jobs
WHERE account_id = %(account_id)s
  AND (%(statuses)s::job_status[] IS NULL OR status = ANY(%(statuses)s::job_status[]))
  AND (%(type)s::text IS NULL OR type = %(type)s)
  AND (%(created_after)s::timestamptz IS NULL OR created_at >= %(created_after)s)
  AND (%(created_before)s::timestamptz IS NULL OR created_at < %(created_before)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- list_events --
SELECT id, at, type, status, run, data FROM job_events
WHERE job_id = %(job_id)s AND id > %(after_id)s
ORDER BY id
LIMIT %(limit)s;

-- count_in_flight --
SELECT count(*) AS n FROM jobs
WHERE account_id = %(account_id)s AND status IN ('scheduled', 'queued', 'running');

-- delete_job --
DELETE FROM jobs WHERE public_id = %(public_id)s AND account_id = %(account_id)s
RETURNING id, status, worker;

-- claim_job --
WITH j AS (
    UPDATE jobs SET status = %(target)s, attempt = attempt + 1, started_at = now(),
                    heartbeat_at = now(), worker = %(worker)s, progress = 0
    WHERE id = %(job_id)s AND status = ANY(%(sources)s::job_status[])
      AND (run_after IS NULL OR run_after <= now())
    RETURNING id, public_id, type, params, status, run, attempt, max_attempts, queue, priority,
              worker, cancel_requested_at,
              extract(epoch FROM now() - coalesce(run_after, queued_at))::float AS waited_s
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'claim', status, run, jsonb_build_object('attempt', attempt, 'worker', worker) FROM j
)
SELECT id, public_id, type, params, attempt, max_attempts, queue, priority, cancel_requested_at, waited_s FROM j;

-- claim_candidates --
-- Not a query on its own: the CTEs that claim one job, included (shared/engine/queries.py) by
-- claim_next and succeed_and_claim_next, so the worker's hot path claims exactly as it does.
-- A worker process claims one job of %(queue)s (its one free slot), a lease kept alive by its
-- heartbeat. (LIMIT 1 is written in, not bound: with it bound, PostgreSQL keeps planning
-- each execution afresh, which cost ten times the execution itself.)
-- Candidates: running jobs whose lease ran out (heartbeat older than %(lease_s)s, and the
-- server up for longer than that: no worker could renew a lease while it was down) while
-- attempts remain, then due queued jobs, each waiting account's head (a skip scan over the
-- accounts, then one index probe each). Order: priority, then the account with the fewest
-- jobs running on this queue (round robin across accounts), then due time. SKIP LOCKED lets
-- claimers run concurrently; each job goes to one of them.
waiting AS (
    (SELECT account_id FROM jobs WHERE status = 'queued' AND queue = %(queue)s ORDER BY account_id LIMIT 1)
    UNION ALL
    SELECT (SELECT j.account_id FROM jobs j
            WHERE j.status = 'queued' AND j.queue = %(queue)s AND j.account_id > w.account_id
            ORDER BY j.account_id LIMIT 1)
    FROM waiting w WHERE w.account_id IS NOT NULL
), heads AS (
    SELECT h.id, h.priority, h.due, false AS expired,
           (SELECT count(*) FROM jobs r WHERE r.status = 'running' AND r.queue = %(queue)s AND r.account_id = w.account_id) AS share
    FROM waiting w CROSS JOIN LATERAL (
        SELECT id, priority, coalesce(run_after, queued_at) AS due FROM jobs
        WHERE status = 'queued' AND queue = %(queue)s AND account_id = w.account_id
          AND coalesce(run_after, queued_at) <= now()
        ORDER BY priority DESC, coalesce(run_after, queued_at), id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) h
    WHERE w.account_id IS NOT NULL
), expired AS (
    SELECT id, priority, heartbeat_at AS due, true AS expired, 0::bigint AS share FROM jobs
    WHERE status = 'running' AND queue = %(queue)s AND heartbeat_at < now() - %(lease_s)s * interval '1 second'
      AND pg_postmaster_start_time() < now() - %(lease_s)s * interval '1 second'
      AND attempt < max_attempts AND cancel_requested_at IS NULL
    ORDER BY heartbeat_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id, expired FROM (SELECT * FROM expired UNION ALL SELECT * FROM heads) c
    ORDER BY expired DESC, priority DESC, share, due, id
    LIMIT 1
), j AS (
    UPDATE jobs SET status = %(target)s, attempt = attempt + 1, started_at = now(), heartbeat_at = now(),
                    worker = %(worker)s, progress = 0
    FROM picked WHERE jobs.id = picked.id AND (jobs.status = ANY(%(sources)s::job_status[]) OR picked.expired)
    RETURNING jobs.id, jobs.public_id, jobs.type, jobs.params, jobs.run, jobs.attempt, jobs.max_attempts,
              jobs.queue, jobs.priority, jobs.worker, jobs.cancel_requested_at, picked.expired,
              CASE WHEN NOT picked.expired  -- queue wait (metrics): from due to claimed
                   THEN extract(epoch FROM now() - coalesce(jobs.run_after, jobs.queued_at))::float END AS waited_s
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT j.id, e.type, e.status::job_status, j.run, e.data
    FROM j CROSS JOIN LATERAL (VALUES
        (1, 'reap', 'queued', jsonb_build_object('attempt', j.attempt - 1, 'reason', 'lease expired')),
        (2, 'claim', 'running', jsonb_build_object('attempt', j.attempt, 'worker', j.worker))
    ) AS e(ord, type, status, data)
    WHERE j.expired OR e.type = 'claim'
    ORDER BY j.id, e.ord
)

-- claim_next --
-- A worker process claims one job of %(queue)s (claim_candidates says how).
WITH RECURSIVE -- include: claim_candidates
SELECT id, public_id, type, params, attempt, max_attempts, queue, priority, cancel_requested_at, waited_s FROM j;

-- succeed_and_claim_next --
-- The worker's hot path in one statement (one round trip, one commit instead of two): the
-- job it ran succeeds (finish_job), and it claims its next job as claim_next does (the same
-- claim_candidates). `finished` is finish_job's row (NULL: the job was no longer ours);
-- `claimed` is claim_next's (NULL: none due).
WITH RECURSIVE done AS (
    UPDATE jobs SET status = %(done_target)s, result = %(result)s, error = NULL, progress = 1, finished_at = now()
    WHERE id = %(job_id)s AND status = ANY(%(done_sources)s::job_status[]) AND worker = %(done_worker)s
    RETURNING id, status, run, attempt,
              callback_url IS NOT NULL OR app_id IS NOT NULL OR EXISTS (
                  SELECT 1 FROM accounts a WHERE a.id = jobs.account_id AND a.default_callback_url <> '') AS callback
), done_events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'succeed', status, run, jsonb_build_object('attempt', attempt) FROM done
), -- include: claim_candidates
SELECT (SELECT to_jsonb(d) - 'attempt' - 'run' FROM done d) AS finished,
       (SELECT to_jsonb(c) FROM (SELECT id, public_id, type, params, attempt, max_attempts, queue, priority,
                                        cancel_requested_at, waited_s FROM j) c) AS claimed;

-- finish_job --
WITH j AS (
    UPDATE jobs SET status = %(target)s, result = %(result)s, error = %(error)s,
                    progress = CASE WHEN %(target)s::job_status = 'succeeded' THEN 1 ELSE progress END,
                    finished_at = now()
    WHERE id = %(job_id)s AND status = ANY(%(sources)s::job_status[]) AND worker = %(worker)s
    RETURNING id, status, run, error, attempt,
              -- whether the callback trigger (migration 0003) may have queued a delivery
              callback_url IS NOT NULL OR app_id IS NOT NULL OR EXISTS (
                  SELECT 1 FROM accounts a WHERE a.id = jobs.account_id AND a.default_callback_url <> '') AS callback
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, %(event)s, status, run, jsonb_strip_nulls(jsonb_build_object('error', error, 'attempt', attempt)) FROM j
)
SELECT id, status, callback FROM j;

-- retry_job --
WITH j AS (
    UPDATE jobs SET status = %(target)s, error = %(error)s, queued_at = now(), dispatched_at = now(),
                    run_after = now() + %(delay_s)s * interval '1 second', worker = NULL,
                    started_at = NULL, heartbeat_at = NULL
    WHERE id = %(job_id)s AND status = ANY(%(sources)s::job_status[]) AND worker = %(worker)s
    RETURNING *
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'retry', status, run, jsonb_build_object('error', error, 'attempt', attempt, 'delay_s', %(delay_s)s) FROM j
)
SELECT * FROM j;

-- heartbeat --
UPDATE jobs SET heartbeat_at = now()
WHERE id = %(job_id)s AND worker = %(worker)s AND status = 'running'
RETURNING cancel_requested_at;

-- report_progress --
-- The latest progress is on the job; its event replaces the run's previous one, so a job
-- that reports a thousand times keeps one progress event (streams still see each, live).
WITH j AS (
    UPDATE jobs SET progress = %(progress)s, heartbeat_at = now()
    WHERE id = %(job_id)s AND worker = %(worker)s AND status = 'running'
    RETURNING id, status, run, cancel_requested_at
), previous AS (
    DELETE FROM job_events e USING j WHERE e.job_id = j.id AND e.run = j.run AND e.type = 'progress'
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'progress', status, run, jsonb_strip_nulls(jsonb_build_object('progress', %(progress)s, 'message', %(message)s::text)) FROM j
)
SELECT * FROM j;

-- cancel_pending --
WITH j AS (
    UPDATE jobs SET status = %(target)s, finished_at = now(), cancel_requested_at = now()
    WHERE public_id = %(public_id)s AND account_id = %(account_id)s
      AND status = ANY(%(sources)s::job_status[]) AND status <> 'running'
    RETURNING *
), events AS (
    INSERT INTO job_events (job_id, type, status, run) SELECT id, 'cancel', status, run FROM j
)
SELECT * FROM j;

-- request_cancel --
WITH j AS (
    UPDATE jobs SET cancel_requested_at = now()
    WHERE public_id = %(public_id)s AND account_id = %(account_id)s
      AND status = 'running' AND cancel_requested_at IS NULL
    RETURNING *
), events AS (
    INSERT INTO job_events (job_id, type, status, run) SELECT id, 'cancel_requested', status, run FROM j
)
SELECT * FROM j;

-- cancel_running --
WITH j AS (
    UPDATE jobs SET status = %(target)s, finished_at = now()
    WHERE id = %(job_id)s AND status = ANY(%(sources)s::job_status[]) AND status = 'running'
      AND (%(worker)s::text IS NULL OR worker = %(worker)s)
    RETURNING *
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'cancel', status, run, jsonb_build_object('how', %(how)s::text) FROM j
)
SELECT * FROM j;

-- restart_job --
WITH old AS (
    SELECT id, status, result, error, finished_at FROM jobs
    WHERE public_id = %(public_id)s AND account_id = %(account_id)s
      AND status = ANY(%(sources)s::job_status[])
    FOR UPDATE
), j AS (
    UPDATE jobs SET status = %(target)s, run = jobs.run + 1, attempt = 0, result = NULL,
                    error = NULL, progress = 0, started_at = NULL, heartbeat_at = NULL,
                    finished_at = NULL, cancel_requested_at = NULL, worker = NULL,
                    run_after = NULL, queued_at = now(), dispatched_at = now()
    FROM old WHERE jobs.id = old.id
    RETURNING jobs.*
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT j.id, 'restart', j.status, j.run,
           jsonb_strip_nulls(jsonb_build_object('previous_status', old.status, 'previous_result', old.result,
                                                'previous_error', old.error, 'previous_finished_at', old.finished_at))
    FROM j JOIN old ON old.id = j.id
)
SELECT * FROM j;

-- dispatch_due --
WITH due AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND start_at <= now() + %(lookahead_s)s * interval '1 second'
    ORDER BY start_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET status = %(target)s, queued_at = now(), dispatched_at = now()
    FROM due WHERE jobs.id = due.id
    RETURNING jobs.id, jobs.queue, jobs.run,
              greatest(extract(epoch FROM jobs.run_after - now()), 0)::float AS countdown
), events AS (
    INSERT INTO job_events (job_id, type, status, run) SELECT id, 'dispatch', 'queued', run FROM j
)
SELECT queue, min(countdown) AS first_s, max(countdown) AS last_s, count(*) AS n FROM j GROUP BY queue;

-- reap_requeue --
-- A lease counts only the time the server was up: while it was down no worker could renew
-- one, so a job is reaped once its heartbeat and the server's start are both older than the
-- lease (beat also waits a lease after it sees the server come back: workers/maintenance.py).
WITH dead AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND heartbeat_at < now() - %(after_s)s * interval '1 second'
      AND pg_postmaster_start_time() < now() - %(after_s)s * interval '1 second'
      AND attempt < max_attempts AND cancel_requested_at IS NULL
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET status = %(target)s, queued_at = now(), dispatched_at = now(), worker = NULL,
                    started_at = NULL, heartbeat_at = NULL, run_after = NULL
    FROM dead WHERE jobs.id = dead.id
    RETURNING jobs.id, jobs.queue, jobs.run, jobs.attempt
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'reap', 'queued', run, jsonb_build_object('attempt', attempt, 'reason', 'heartbeat stopped') FROM j
)
SELECT queue, count(*) AS n FROM j GROUP BY queue;

-- reap_fail --
WITH dead AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND heartbeat_at < now() - %(after_s)s * interval '1 second'
      AND pg_postmaster_start_time() < now() - %(after_s)s * interval '1 second'
      AND attempt >= max_attempts AND cancel_requested_at IS NULL
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET status = %(target)s, finished_at = now(),
                    error = format('worker lost: its process died or stopped heart-beating on each of %%s attempts', attempt)
    FROM dead WHERE jobs.id = dead.id
    RETURNING jobs.id, jobs.run, jobs.error
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'fail', 'failed', run, jsonb_build_object('error', error) FROM j
)
SELECT id FROM j;

-- terminate_canceled --
WITH stuck AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND status = 'running'
      AND cancel_requested_at < now() - %(grace_s)s * interval '1 second'
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET status = %(target)s, finished_at = now()
    FROM stuck WHERE jobs.id = stuck.id
    RETURNING jobs.id, jobs.run
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'cancel', 'canceled', run, jsonb_build_object('how', 'terminated after grace period') FROM j
)
SELECT id FROM j;

-- watch_jobs --
-- A stream watches jobs: their events NOTIFY until expires_at (migration 0018). FOR SHARE
-- waits for a transition in flight on each job, so once this commits, every event is either
-- visible to the stream's next read or committed after it, and then notified.
INSERT INTO job_watchers (job_id, expires_at)
SELECT id, now() + %(ttl_s)s * interval '1 second' FROM jobs
WHERE id = ANY(%(job_ids)s::bigint[])
ORDER BY id
FOR SHARE
ON CONFLICT (job_id) DO UPDATE SET expires_at = greatest(job_watchers.expires_at, EXCLUDED.expires_at);

-- purge_job_watchers --
DELETE FROM job_watchers WHERE expires_at < now();

-- get_jobs_by_ids --
SELECT * FROM jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id;

-- claimable_queues --
-- Beat's safety net: the queues a worker would find work on now (a due job, or a lease that
-- ran out), one index probe each.
SELECT q.queue FROM unnest(%(queues)s::text[]) AS q(queue)
WHERE EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND queue = q.queue
                AND coalesce(run_after, queued_at) <= now())
   OR EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND queue = q.queue
                AND heartbeat_at < now() - %(lease_s)s * interval '1 second'
                AND pg_postmaster_start_time() < now() - %(lease_s)s * interval '1 second'
                AND attempt < max_attempts AND cancel_requested_at IS NULL);

-- queue_depths --
-- Jobs waiting to be claimed, and the age of the oldest, per queue in %(queues)s (metrics, read
-- at every scrape). Bounded: each queue reads at most %(cap)s of its queued rows from the
-- jobs_claim index (one index range), so a backlog of millions costs a scrape no more than
-- %(cap)s rows per queue; past it the depth reads %(cap)s and the age is that of the oldest
-- among the rows read.
SELECT q.queue, d.due, d.age_s
FROM unnest(%(queues)s::text[]) AS q(queue)
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE due <= now()) AS due, extract(epoch FROM now() - min(queued_at))::float AS age_s
    FROM (SELECT coalesce(run_after, queued_at) AS due, queued_at FROM jobs
          WHERE status = 'queued' AND queue = q.queue LIMIT %(cap)s) w
) d;

-- autoscale_demand --
-- What KEDA's postgresql scaler reads for a queue's worker Deployment (deploy/k8s/keda.yaml
-- holds this query with the queue written in): jobs running or due on the queue, and for
-- `callbacks` the deliveries due.
SELECT (SELECT count(*) FROM jobs WHERE queue = %(queue)s
          AND (status = 'running' OR (status = 'queued' AND coalesce(run_after, queued_at) <= now())))
     + (SELECT count(*) FROM deliveries WHERE %(queue)s = 'callbacks'
          AND state = 'pending' AND next_attempt_at <= now()) AS demand;

-- prune_finished --
-- Retention: delete up to %(limit)s jobs finished over %(days)s days ago, oldest first, with
-- their events, file rows and deliveries (ON DELETE CASCADE). Jobs a dialect's record still
-- points at (a media object, a PHYLOViZ project's job) stay with that record. `files`: the
-- job had stored files, whose bytes the caller deletes from the object store.
WITH old AS (
    SELECT j.id FROM jobs j
    WHERE j.finished_at < now() - %(days)s * interval '1 day'
      AND NOT EXISTS (SELECT 1 FROM media_objects m WHERE m.job_id = j.id)
      AND NOT EXISTS (SELECT 1 FROM phylo_jobs p WHERE p.job_id = j.id)
    ORDER BY j.finished_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM jobs USING old WHERE jobs.id = old.id
RETURNING jobs.public_id, EXISTS (SELECT 1 FROM job_files f WHERE f.job_id = jobs.id) AS files;
