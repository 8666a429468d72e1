-- Files of jobs.

-- save_file --
INSERT INTO job_files (job_id, name, key, content_type, size)
VALUES (%(job_id)s, %(name)s, %(key)s, %(content_type)s, %(size)s)
ON CONFLICT (job_id, name) DO UPDATE
SET key = EXCLUDED.key, content_type = EXCLUDED.content_type, size = EXCLUDED.size, created_at = now()
RETURNING *;

-- list_files --
SELECT name, key, content_type, size, created_at FROM job_files WHERE job_id = %(job_id)s ORDER BY name;

-- get_file --
-- By its name, or by its name without the extension (small for small.jpg), as Dragon's are.
SELECT name, key, content_type, size, created_at FROM job_files
WHERE job_id = %(job_id)s AND (name = %(name)s OR split_part(name, '.', 1) = %(name)s)
ORDER BY name = %(name)s DESC, name
LIMIT 1;

-- file_exists_by_key --
SELECT 1 AS ok FROM job_files WHERE key = %(key)s;

-- signing_key --
SELECT value FROM instance_secrets WHERE name = 'signing_key';

-- existing_jobs --
-- Which of these public ids still name a job (the sweeper keeps their files).
SELECT public_id::text AS public_id FROM jobs WHERE public_id = ANY(%(ids)s::uuid[]);
