-- Apps and the jobs submitted through them (the Canotic dialect's view of jobs).

-- create_app --
INSERT INTO apps (account_id, name, type, params, input_map, callback_url)
VALUES (%(account_id)s, %(name)s, %(type)s, %(params)s, %(input_map)s, %(callback_url)s)
RETURNING *;

-- get_app --
SELECT * FROM apps
WHERE public_id = upper(%(public_id)s) AND account_id = %(account_id)s AND deleted_at IS NULL;

-- list_apps --
SELECT * FROM apps
WHERE account_id = %(account_id)s AND deleted_at IS NULL
ORDER BY id DESC
LIMIT %(limit)s;

-- delete_app --
UPDATE apps SET deleted_at = now()
WHERE public_id = upper(%(public_id)s) AND account_id = %(account_id)s AND deleted_at IS NULL
RETURNING *;

-- app_public_ids --
SELECT id, public_id FROM apps WHERE id = ANY(%(ids)s::bigint[]);

-- attach_app_jobs --
-- Inside the creating transaction, before the jobs are published: no worker sees them bare.
UPDATE jobs SET app_id = %(app_id)s, input = x.input
FROM jsonb_to_recordset(%(items)s::jsonb) AS x(id bigint, input jsonb)
WHERE jobs.id = x.id
RETURNING jobs.*;

-- page_app_jobs --
-- One page and the total of all matching jobs (a row with NULL id when the page is empty).
WITH matching AS (
    SELECT j.* FROM jobs j
    WHERE j.account_id = %(account_id)s
      AND (%(app_id)s::bigint IS NULL OR j.app_id = %(app_id)s)
      AND (%(statuses)s::job_status[] IS NULL OR j.status = ANY(%(statuses)s::job_status[]))
      AND (%(created_from)s::timestamptz IS NULL OR j.created_at >= %(created_from)s)
      AND (%(created_to)s::timestamptz IS NULL OR j.created_at <= %(created_to)s)
      AND (%(completed_from)s::timestamptz IS NULL OR j.finished_at >= %(completed_from)s)
      AND (%(completed_to)s::timestamptz IS NULL OR j.finished_at <= %(completed_to)s)
), total AS (
    SELECT count(*) AS total FROM matching
)
SELECT total.total, page.* FROM total LEFT JOIN LATERAL (
    SELECT m.*, a.public_id AS app_public_id FROM matching m LEFT JOIN apps a ON a.id = m.app_id
    ORDER BY
        CASE WHEN NOT %(descending)s AND %(by_completion)s THEN m.finished_at END ASC NULLS LAST,
        CASE WHEN %(descending)s AND %(by_completion)s THEN m.finished_at END DESC NULLS LAST,
        CASE WHEN NOT %(descending)s THEN m.id END ASC,
        CASE WHEN %(descending)s THEN m.id END DESC
    LIMIT %(limit)s OFFSET %(offset)s
) page ON true;
