-- Media jobs (Rekosearch), their objects, and credits. A media job's status is derived from
-- its objects' jobs: `statuses` counts them by status ('deleted': the job was deleted alone).

-- media_job_id_taken --
-- Media job ids are drawn at random (shared/media/service.py), not from the table's sequence: ids
-- from one global sequence would let any account estimate everyone's volume.
SELECT EXISTS (SELECT 1 FROM media_jobs WHERE id = %(id)s) AS taken;

-- credit_balance --
SELECT coalesce(credits, %(default)s) AS credits, credits_spent FROM accounts WHERE id = %(account_id)s;

-- charge_credits --
-- One conditional UPDATE: of two jobs racing for the last credits, the second re-reads the
-- balance after the first commits and matches no row.
UPDATE accounts SET credits = coalesce(credits, %(default)s) - %(cost)s,
                    credits_spent = credits_spent + %(cost)s
WHERE id = %(account_id)s AND coalesce(credits, %(default)s) >= %(cost)s
RETURNING credits;

-- grant_credits --
UPDATE accounts SET credits = coalesce(credits, %(default)s) + %(amount)s
WHERE name = %(name)s AND coalesce(credits, %(default)s) + %(amount)s >= 0
RETURNING name, credits, credits_spent;

-- usage --
SELECT a.name, coalesce(a.credits, %(default)s) AS credits, a.credits_spent,
       (SELECT count(*) FROM media_jobs m WHERE m.account_id = a.id) AS media_jobs,
       coalesce((SELECT jsonb_object_agg(s.status, s.n) FROM (
                    SELECT status, count(*) AS n FROM jobs WHERE account_id = a.id GROUP BY status) s),
                '{}'::jsonb) AS jobs
FROM accounts a WHERE a.id = %(account_id)s;

-- insert_media_job --
INSERT INTO media_jobs (id, public_id, account_id, name, total_size, credits_spent, email)
VALUES (%(id)s, %(public_id)s, %(account_id)s, %(name)s, %(total_size)s, %(credits_spent)s, %(email)s)
RETURNING *;

-- insert_media_objects --
INSERT INTO media_objects (media_job_id, object_uuid, ord, name, original_name, size, content_type, key,
                           job_id, credits)
SELECT %(media_job_id)s, o.object_uuid, o.ord, o.name, o.original_name, o.size, o.content_type, o.key,
       o.job_id, o.credits
FROM jsonb_to_recordset(%(objects)s::jsonb) AS o(object_uuid uuid, ord int, name text, original_name text,
     size bigint, content_type text, key text, job_id bigint, credits int);

-- insert_object_files --
-- Files of an object's job: the signed-URL route serves only keys listed here, so deleting
-- the job (its rows cascade) kills every link to it.
INSERT INTO job_files (job_id, name, key, content_type, size)
SELECT f.job_id, f.name, f.key, f.content_type, f.size
FROM jsonb_to_recordset(%(files)s::jsonb) AS f(job_id bigint, name text, key text, content_type text, size bigint)
ON CONFLICT (job_id, name) DO UPDATE
SET key = EXCLUDED.key, content_type = EXCLUDED.content_type, size = EXCLUDED.size, created_at = now();

-- media_job_summaries --
SELECT m.*,
       coalesce((SELECT jsonb_object_agg(s.status, s.n) FROM (
                    SELECT coalesce(j.status::text, 'deleted') AS status, count(*) AS n
                    FROM media_objects o LEFT JOIN jobs j ON j.id = o.job_id
                    WHERE o.media_job_id = m.id GROUP BY 1) s),
                '{}'::jsonb) AS statuses
FROM media_jobs m
WHERE m.account_id = %(account_id)s AND (%(id)s::bigint IS NULL OR m.id = %(id)s)
ORDER BY m.created_at DESC, m.id DESC;

-- media_job_objects --
SELECT o.object_uuid, o.name, o.original_name, o.size, o.content_type, o.key, o.media_length,
       o.full_key, o.min_key, o.thumbnail_key, o.job_id, j.public_id AS job_public_id,
       coalesce(j.status::text, 'deleted') AS status, j.error
FROM media_objects o LEFT JOIN jobs j ON j.id = o.job_id
WHERE o.media_job_id = %(media_job_id)s
ORDER BY o.ord;

-- media_object_file --
-- A file of one of the media job's objects, by its name (uuid.ext, uuid.json, uuid.thumb.jpg ...).
SELECT f.name, f.key, f.content_type
FROM media_objects o JOIN job_files f ON f.job_id = o.job_id
WHERE o.media_job_id = %(media_job_id)s AND f.name = %(name)s;

-- media_object_for_job --
-- The object a media.analyze job works on: only the job created with it (another account's
-- media_job_id in a hand-made job's params finds nothing).
SELECT o.*, m.public_id AS media_public_id, j.id AS engine_job_id
FROM jobs j
JOIN media_objects o ON o.job_id = j.id
JOIN media_jobs m ON m.id = o.media_job_id
WHERE j.public_id = %(public_id)s AND o.media_job_id = %(media_job_id)s
  AND o.object_uuid = %(object_uuid)s;

-- skip_commit_flush --
-- For a record a job can make again: if the server crashes before this commit reaches the
-- disk, the job's own (synchronous) success, which comes later, had not committed either,
-- so the job runs again. Saves a WAL flush (milliseconds) per object.
SET LOCAL synchronous_commit = off;

-- record_media_results --
WITH o AS (
    UPDATE media_objects SET media_length = %(media_length)s, full_key = %(full_key)s,
                             min_key = %(min_key)s, thumbnail_key = %(thumbnail_key)s
    WHERE job_id = %(job_id)s
    RETURNING job_id
), f AS (
    INSERT INTO job_files (job_id, name, key, content_type, size)
    SELECT o.job_id, f.name, f.key, f.content_type, f.size
    FROM o, jsonb_to_recordset(%(files)s::jsonb) AS f(name text, key text, content_type text, size bigint)
    ON CONFLICT (job_id, name) DO UPDATE
    SET key = EXCLUDED.key, content_type = EXCLUDED.content_type, size = EXCLUDED.size, created_at = now()
)
SELECT job_id FROM o;

-- delete_media_object_jobs --
-- First of the two statements of a delete (jobs, then the media job: the order in which a
-- finishing object's transaction takes its locks, so the two never deadlock).
DELETE FROM jobs WHERE id IN (
    SELECT o.job_id FROM media_objects o JOIN media_jobs m ON m.id = o.media_job_id
    WHERE m.id = %(id)s AND m.account_id = %(account_id)s
);

-- delete_media_job --
DELETE FROM media_jobs WHERE id = %(id)s AND account_id = %(account_id)s RETURNING public_id;
