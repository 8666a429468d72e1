-- Datasets of RDF triples, in generations (migration 0004). A dataset is read-only while a
-- dataset.reset job of its owner is running: `reset_job` below is that job, or NULL.

-- create_dataset --
INSERT INTO datasets (account_id, code, title, status)
VALUES (%(account_id)s, %(code)s, %(title)s, %(status)s)
RETURNING *, NULL::uuid AS reset_job;

-- get_dataset --
SELECT d.*,
       (SELECT j.public_id FROM jobs j
        WHERE j.type = 'dataset.reset' AND j.status = 'running'
          AND j.account_id = d.account_id AND j.params->>'dataset' = d.code
        ORDER BY j.id LIMIT 1) AS reset_job
FROM datasets d WHERE d.account_id = %(account_id)s AND d.code = %(code)s;

-- list_datasets --
SELECT d.*,
       (SELECT j.public_id FROM jobs j
        WHERE j.type = 'dataset.reset' AND j.status = 'running'
          AND j.account_id = d.account_id AND j.params->>'dataset' = d.code
        ORDER BY j.id LIMIT 1) AS reset_job
FROM datasets d WHERE d.account_id = %(account_id)s ORDER BY d.code;

-- update_dataset --
UPDATE datasets SET title = coalesce(%(title)s, title), status = coalesce(%(status)s, status)
WHERE id = %(dataset_id)s
RETURNING id;

-- delete_dataset --
DELETE FROM datasets WHERE id = %(dataset_id)s RETURNING id;

-- delete_dataset_rows --
WITH t AS (DELETE FROM triples WHERE dataset_id = %(dataset_id)s)
DELETE FROM triple_counts WHERE dataset_id = %(dataset_id)s;

-- lock_dataset_for_write --
-- FOR SHARE: writers do not wait for each other; a reset's swap (an UPDATE of this row)
-- waits for every writer holding it, and writers arriving after the swap read the new
-- generation. The running-reset lookup refuses writes for the whole run of a reset job.
SELECT d.id, d.account_id, d.code, d.generation,
       (SELECT j.public_id FROM jobs j
        WHERE j.type = 'dataset.reset' AND j.status = 'running'
          AND j.account_id = d.account_id AND j.params->>'dataset' = d.code
        ORDER BY j.id LIMIT 1) AS reset_job
FROM datasets d WHERE d.account_id = %(account_id)s AND d.code = %(code)s
FOR SHARE OF d;

-- repeatable_read --
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- create_triple_load --
CREATE TEMP TABLE triple_load (s text, p text, o text) ON COMMIT DROP;

-- stage_triples --
-- A chunk of "s<TAB>p<TAB>o" lines as one text parameter, split here: about as fast as COPY
-- (which psycopg2 refuses under psycogreen) and 3-4 times faster than three text arrays.
INSERT INTO triple_load (s, p, o)
SELECT split_part(l, E'\t', 1), split_part(l, E'\t', 2), split_part(l, E'\t', 3)
FROM unnest(string_to_array(rtrim(%(lines)s, E'\n'), E'\n')) AS l;

-- insert_staged_triples --
WITH ins AS (
    INSERT INTO triples (dataset_id, generation, h, s, p, o)
    SELECT %(dataset_id)s, %(generation)s, md5(s || ' ' || p || ' ' || o)::uuid, s, p, o FROM triple_load
    ON CONFLICT DO NOTHING
    RETURNING 1
), n AS (
    SELECT count(*) AS added FROM ins
), counted AS (
    INSERT INTO triple_counts (dataset_id, generation, delta)
    SELECT %(dataset_id)s, %(generation)s, added FROM n WHERE added > 0
)
SELECT added FROM n;

-- insert_triples --
WITH ins AS (
    INSERT INTO triples (dataset_id, generation, h, s, p, o)
    SELECT %(dataset_id)s, %(generation)s, md5(t.s || ' ' || t.p || ' ' || t.o)::uuid, t.s, t.p, t.o
    FROM unnest(%(s)s::text[], %(p)s::text[], %(o)s::text[]) AS t(s, p, o)
    ON CONFLICT DO NOTHING
    RETURNING 1
), n AS (
    SELECT count(*) AS added FROM ins
), counted AS (
    INSERT INTO triple_counts (dataset_id, generation, delta)
    SELECT %(dataset_id)s, %(generation)s, added FROM n WHERE added > 0
)
SELECT added FROM n;

-- delete_triples --
WITH del AS (
    DELETE FROM triples
    WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s
      AND (%(s)s::text IS NULL OR s = %(s)s)
      AND (%(p)s::text IS NULL OR p = %(p)s)
      AND (%(o)s::text IS NULL OR o = %(o)s)
    RETURNING 1
), n AS (
    SELECT count(*) AS deleted FROM del
), counted AS (
    INSERT INTO triple_counts (dataset_id, generation, delta)
    SELECT %(dataset_id)s, %(generation)s, -deleted FROM n WHERE deleted > 0
)
SELECT deleted FROM n;

-- count_triples --
SELECT coalesce(sum(delta), 0)::bigint AS n, count(*) AS deltas
FROM triple_counts WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s;

-- count_matching_triples --
SELECT count(*) AS n FROM triples
WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s
  AND (%(s)s::text IS NULL OR s = %(s)s)
  AND (%(p)s::text IS NULL OR p = %(p)s)
  AND (%(o)s::text IS NULL OR o = %(o)s);

-- compact_counts --
-- One row for many deltas. Only rows this statement deleted are summed, so a delta
-- committed meanwhile is kept; the advisory lock keeps two compactions from colliding.
WITH gone AS (
    DELETE FROM triple_counts
    WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s
      AND pg_try_advisory_xact_lock(1684108385, (%(dataset_id)s %% 2147483647)::int)
    RETURNING delta
)
INSERT INTO triple_counts (dataset_id, generation, delta)
SELECT %(dataset_id)s, %(generation)s, sum(delta) FROM gone HAVING count(*) > 0;

-- page_triples --
SELECT h, s, p, o FROM triples
WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s
  AND (%(after)s::uuid IS NULL OR h > %(after)s::uuid)
  AND (%(s)s::text IS NULL OR s = %(s)s)
  AND (%(p)s::text IS NULL OR p = %(p)s)
  AND (%(o)s::text IS NULL OR o = %(o)s)
ORDER BY h
LIMIT %(limit)s;

-- export_triples --
SELECT s || ' ' || p || ' ' || o || E' .\n' AS line FROM triples
WHERE dataset_id = %(dataset_id)s AND generation = %(generation)s;

-- dataset_for_job --
-- The dataset named by a job, if the job's account owns it (handlers check ownership:
-- anyone can put any code in a job's params).
SELECT d.*, extract(epoch FROM j.started_at - j.start_at) * 1000 AS lateness_ms
FROM datasets d JOIN jobs j ON j.account_id = d.account_id
WHERE j.public_id = %(job)s AND d.code = %(code)s;

-- swap_generation --
-- The reset itself: one UPDATE. It waits for writers holding the row FOR SHARE, and
-- swaps only while the job is still running (not if it was cancelled meanwhile).
UPDATE datasets d SET generation = d.generation + 1, reset_at = now()
FROM jobs j
WHERE d.id = %(dataset_id)s AND j.public_id = %(job)s AND j.status = 'running'
  AND j.account_id = d.account_id
RETURNING d.id, d.code, d.account_id, d.generation, d.generation - 1 AS previous,
          EXISTS (SELECT 1 FROM triples t WHERE t.dataset_id = d.id AND t.generation < d.generation) AS garbage;

-- current_generation --
SELECT generation FROM datasets WHERE id = %(dataset_id)s;

-- oldest_generation --
SELECT generation FROM triples
WHERE dataset_id = %(dataset_id)s AND generation < %(generation)s
ORDER BY generation LIMIT 1;

-- reclaim_triples --
-- One batch of one old generation, in key order from where the last batch ended
-- (restarting from the front would walk the dead index entries of every earlier batch);
-- rows picked by an ordered index scan, deleted by ctid, so no batch becomes a scan of the
-- table. Old generations' rows are never updated, so their ctids hold still.
WITH gone AS (
    DELETE FROM triples
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM triples
        WHERE dataset_id = %(dataset_id)s AND generation = %(old)s AND h > %(after_h)s::uuid
        ORDER BY h
        LIMIT %(batch)s))
    RETURNING h
)
SELECT count(*) AS deleted, max(h::text)::uuid AS last_h FROM gone;

-- reclaim_counts --
DELETE FROM triple_counts WHERE dataset_id = %(dataset_id)s AND generation < %(generation)s;
