-- The Dragon dialect: tasks by key, and the events its status streams replay.

-- dragon_jobs_by_public_ids --
-- Tasks by key. Without an account (no API key sent) the task key alone is the credential;
-- with a public key's id, only the tasks that key created.
SELECT j.*, coalesce((SELECT max(e.id) FROM job_events e WHERE e.job_id = j.id), 0) AS last_event_id
FROM jobs j
WHERE j.public_id = ANY(%(public_ids)s::uuid[])
  AND (%(account_id)s::bigint IS NULL OR j.account_id = %(account_id)s::bigint)
  AND (%(key_id)s::bigint IS NULL
       OR EXISTS (SELECT 1 FROM public_key_jobs p WHERE p.job_id = j.id AND p.key_id = %(key_id)s::bigint));

-- record_public_key_jobs --
INSERT INTO public_key_jobs (job_id, key_id)
SELECT unnest(%(job_ids)s::bigint[]), %(key_id)s::bigint;

-- dragon_jobs_by_ids --
SELECT j.*, coalesce((SELECT max(e.id) FROM job_events e WHERE e.job_id = j.id), 0) AS last_event_id
FROM jobs j
WHERE j.id = ANY(%(ids)s::bigint[]);

-- dragon_events_after --
-- Each job's events after its own cursor: within one job, event ids follow commit order
-- (every transition locks the job row), across jobs they need not.
SELECT e.id, e.job_id, e.at, e.type, e.status, e.run, e.data
FROM unnest(%(job_ids)s::bigint[], %(after_ids)s::bigint[]) AS c(job_id, after_id)
JOIN job_events e ON e.job_id = c.job_id AND e.id > c.after_id
ORDER BY e.id
LIMIT 10000;
