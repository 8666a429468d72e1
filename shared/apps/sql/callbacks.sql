-- Callback deliveries: the outbox rows the terminal-transition trigger inserts (migration
-- 0003), their publishing, the claim of one attempt, and the record of every attempt.

-- mark_job_deliveries_dispatched --
-- Right after a worker finished the job: publish its first attempt without waiting for beat.
UPDATE deliveries SET dispatched_at = now()
WHERE job_id = %(job_id)s AND state = 'pending' AND dispatched_at IS NULL
  AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
RETURNING id;

-- mark_due_deliveries_dispatched --
-- Beat: first attempts nobody published (e.g. a cancel through the API), retries now due,
-- and messages lost on the way (published long ago, never claimed).
WITH due AS (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND next_attempt_at <= now()
      AND (locked_until IS NULL OR locked_until < now())
      AND (dispatched_at IS NULL OR dispatched_at < now() - %(redispatch_after_s)s * interval '1 second')
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries SET dispatched_at = now() FROM due WHERE deliveries.id = due.id
RETURNING deliveries.id;

-- claim_delivery --
-- At most one attempt at a time; a duplicate or early message finds nothing to claim.
WITH d AS (
    UPDATE deliveries SET attempts = attempts + 1,
                          locked_until = now() + %(lock_s)s * interval '1 second'
    WHERE id = %(id)s AND state = 'pending' AND next_attempt_at <= now()
      AND (locked_until IS NULL OR locked_until < now())
    RETURNING *
)
SELECT d.*, acc.webhook_secret,
       CASE WHEN acc.webhook_secret_rotated_at > now() - interval '1 day'
            THEN acc.webhook_secret_previous END AS webhook_secret_previous,
       -- the job as it is now, for the payload (built at the first attempt only)
       j.public_id AS job_public_id, j.type AS job_type, j.status AS job_status_now, j.run AS job_run, j.params AS job_params,
       j.input AS job_input, j.result AS job_result, j.error AS job_error, j.created_at AS job_created_at,
       j.finished_at AS job_finished_at, j.callback_url AS job_callback_url, j.metadata AS job_metadata,
       a.public_id AS job_app_public_id
FROM d JOIN jobs j ON j.id = d.job_id JOIN accounts acc ON acc.id = j.account_id
LEFT JOIN apps a ON a.id = j.app_id;

-- record_attempt --
-- The attempt, the delivery's new state and, once settled, the job's callback_succeeded: one statement.
WITH d AS (
    UPDATE deliveries SET
        state = %(state)s,
        locked_until = NULL,
        dispatched_at = CASE WHEN %(state)s = 'pending' THEN NULL ELSE dispatched_at END,
        next_attempt_at = now() + %(delay_s)s * interval '1 second',
        finished_at = CASE WHEN %(state)s = 'pending' THEN NULL ELSE now() END,
        last_error = %(error)s,
        body = coalesce(body, %(body)s)
    WHERE id = %(id)s AND state = 'pending'
    RETURNING *
), attempt AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, at, duration_ms, status_code, error, response)
    SELECT id, attempts, %(at)s, %(duration_ms)s, %(status_code)s, %(error)s, %(response)s FROM d
), job AS (
    UPDATE jobs SET callback_succeeded = (d.state = 'delivered')
    FROM d WHERE jobs.id = d.job_id AND jobs.run = d.run AND d.state <> 'pending'
)
SELECT * FROM d;

-- list_job_deliveries --
SELECT d.public_id AS id, d.run, d.job_status, d.target, d.state, d.created_at, d.next_attempt_at,
       d.finished_at, d.last_error,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'attempt', t.attempt, 'at', t.at, 'duration_ms', t.duration_ms,
                    'status_code', t.status_code, 'error', t.error, 'response', t.response) ORDER BY t.id)
                 FROM delivery_attempts t WHERE t.delivery_id = d.id), '[]'::jsonb) AS attempts
FROM deliveries d
WHERE d.job_id = %(job_id)s
ORDER BY d.id;

-- redeliver --
-- A settled delivery (delivered, or given up) goes out again now, with the same webhook-id and
-- body; the caller publishes it. Returns the delivery's state before, whether or not it moved
-- (a pending one is already on its way), and nothing for an unknown id or another job's.
WITH found AS (
    SELECT id, state FROM deliveries WHERE public_id = %(public_id)s AND job_id = %(job_id)s
), moved AS (
    UPDATE deliveries SET state = 'pending', next_attempt_at = now(), finished_at = NULL,
                          locked_until = NULL, dispatched_at = now(), last_error = NULL
    FROM found WHERE deliveries.id = found.id AND deliveries.state <> 'pending'
    RETURNING deliveries.id
)
SELECT found.id, found.state AS was, EXISTS (SELECT 1 FROM moved) AS redelivered FROM found;

-- get_webhook --
-- Never the secret itself: it is shown once, by rotate_webhook_secret.
SELECT default_callback_url, webhook_secret_rotated_at AS secret_rotated_at FROM accounts WHERE id = %(account_id)s;

-- set_default_callback --
UPDATE accounts SET default_callback_url = %(default_callback_url)s
WHERE id = %(account_id)s
RETURNING default_callback_url, webhook_secret_rotated_at AS secret_rotated_at;

-- rotate_webhook_secret --
UPDATE accounts SET
    webhook_secret_previous = webhook_secret,
    webhook_secret = 'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'),
    webhook_secret_rotated_at = now()
WHERE id = %(account_id)s
RETURNING webhook_secret AS secret, webhook_secret_rotated_at AS secret_rotated_at;
