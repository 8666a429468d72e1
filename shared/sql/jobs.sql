-- Jobs and their events. Every status change below is one statement: a conditional UPDATE
-- guarded by the transition's source states (bound from shared/states.py as %(sources)s)
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
              worker, cancel_requested_at
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'claim', status, run, jsonb_build_object('attempt', attempt, 'worker', worker) FROM j
)
SELECT id, public_id, type, params, attempt, max_attempts, queue, priority, cancel_requested_at FROM j;

-- job_claimability --
SELECT status, run_after, extract(epoch FROM run_after - now()) AS wait_s FROM jobs WHERE id = %(job_id)s;

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
WITH j AS (
    UPDATE jobs SET progress = %(progress)s, heartbeat_at = now()
    WHERE id = %(job_id)s AND worker = %(worker)s AND status = 'running'
    RETURNING id, status, run, cancel_requested_at
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
    RETURNING jobs.id, jobs.type, jobs.queue, jobs.priority, jobs.run,
              greatest(extract(epoch FROM jobs.run_after - now()), 0)::float AS countdown
), events AS (
    INSERT INTO job_events (job_id, type, status, run) SELECT id, 'dispatch', 'queued', run FROM j
)
SELECT id, type, queue, priority, countdown FROM j;

-- redispatch_lost --
WITH lost AS (
    SELECT id FROM jobs
    WHERE status = 'queued' AND queue = ANY(%(queues)s)
      AND dispatched_at < now() - %(after_s)s * interval '1 second'
      AND (run_after IS NULL OR run_after < now() - %(after_s)s * interval '1 second')
      AND NOT id = ANY(%(reserved)s::bigint[])
    ORDER BY dispatched_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET dispatched_at = now() FROM lost WHERE jobs.id = lost.id
    RETURNING jobs.id, jobs.type, jobs.queue, jobs.priority, jobs.run
), events AS (
    INSERT INTO job_events (job_id, type, status, run) SELECT id, 'redispatch', 'queued', run FROM j
)
SELECT id, type, queue, priority, 0.0::float AS countdown FROM j;

-- reap_requeue --
WITH dead AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND heartbeat_at < now() - %(after_s)s * interval '1 second'
      AND attempt < max_attempts AND cancel_requested_at IS NULL
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET status = %(target)s, queued_at = now(), dispatched_at = now(), worker = NULL,
                    started_at = NULL, heartbeat_at = NULL, run_after = NULL
    FROM dead WHERE jobs.id = dead.id
    RETURNING jobs.id, jobs.type, jobs.queue, jobs.priority, jobs.run, jobs.attempt
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'reap', 'queued', run, jsonb_build_object('attempt', attempt, 'reason', 'heartbeat stopped') FROM j
)
SELECT id, type, queue, priority, 0.0::float AS countdown FROM j;

-- reap_fail --
WITH dead AS (
    SELECT id FROM jobs
    WHERE status = ANY(%(sources)s::job_status[]) AND heartbeat_at < now() - %(after_s)s * interval '1 second'
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
    RETURNING jobs.id, jobs.run, jobs.worker, jobs.queue, jobs.dispatched_at
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'cancel', 'canceled', run, jsonb_build_object('how', 'terminated after grace period') FROM j
)
SELECT id, worker, queue, dispatched_at FROM j;

-- redispatch_published_with --
-- A terminated task may have carried other jobs (a shared message): publish again every
-- job still queued from the same dispatch (same queue, same dispatched_at). A duplicate
-- message is harmless: the claim refuses it.
WITH mates AS (
    SELECT id FROM jobs
    WHERE status = 'queued' AND queue = %(queue)s AND dispatched_at = %(dispatched_at)s
    FOR UPDATE SKIP LOCKED
), j AS (
    UPDATE jobs SET dispatched_at = now() FROM mates WHERE jobs.id = mates.id
    RETURNING jobs.id, jobs.type, jobs.queue, jobs.priority, jobs.run
), events AS (
    INSERT INTO job_events (job_id, type, status, run, data)
    SELECT id, 'redispatch', 'queued', run, jsonb_build_object('reason', 'its message was terminated') FROM j
)
SELECT id, type, queue, priority, 0.0::float AS countdown FROM j;

-- get_jobs_by_ids --
SELECT * FROM jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id;

-- oldest_queued --
SELECT queue, extract(epoch FROM now() - min(queued_at))::float AS age_s
FROM jobs WHERE status = 'queued' GROUP BY queue;
