-- Media jobs (the Rekosearch jobs API): uploaded objects, each analysed by one `media.analyze`
-- job, and per-account credits.
--
-- A media job has no status column: its status is derived from its objects' jobs. What must
-- happen exactly once when an object's job finishes happens in that transition's transaction
-- (trigger below): a refund of the credits of an object that could not be processed, and,
-- when it was the last object, the job's finished_at and its "done" email (a callback row).

-- NULL credits: never used yet, reads as JOBLINE_DEFAULT_CREDITS (a setting, so not a default here).
ALTER TABLE accounts
    ADD COLUMN credits bigint CHECK (credits >= 0),
    ADD COLUMN credits_spent bigint NOT NULL DEFAULT 0;  -- over the account's life, net of refunds

CREATE TABLE media_jobs (
    id            bigserial PRIMARY KEY,                                -- Rekosearch's numeric job_id
    public_id     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),       -- objects live under media/<public_id>/
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    total_size    bigint NOT NULL CHECK (total_size >= 0),
    credits_spent bigint NOT NULL CHECK (credits_spent >= 0),           -- net of refunds
    email         text,                                                 -- Send-Email: ?1 → where to
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz                                           -- when its last object's job finished
);
CREATE INDEX media_jobs_account ON media_jobs (account_id, id DESC);

CREATE TABLE media_objects (
    media_job_id  bigint NOT NULL REFERENCES media_jobs (id) ON DELETE CASCADE,
    object_uuid   uuid NOT NULL,
    ord           integer NOT NULL,                                     -- upload order
    name          text NOT NULL CHECK (name ~ '^[0-9a-f-]{36}\.[a-z0-9]{1,10}$'),  -- uuid.ext
    original_name text NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    content_type  text NOT NULL,                                        -- sniffed, never the client's
    key           text NOT NULL,                                        -- the original in the object store
    job_id        bigint UNIQUE REFERENCES jobs (id) ON DELETE SET NULL,
    credits       integer NOT NULL CHECK (credits >= 0),                -- charged at upload
    refunded      boolean NOT NULL DEFAULT false,
    media_length  real,                                                 -- measured by the analysis
    full_key      text,
    min_key       text,
    thumbnail_key text,
    PRIMARY KEY (media_job_id, object_uuid),
    UNIQUE (media_job_id, name)
);

CREATE FUNCTION media_object_finished() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m media_jobs;
    refund integer;
    total integer;
    done integer;
    ok integer;
BEGIN
    -- Lock the media job: of two objects finishing at once, the second to commit waits here
    -- and then (a new snapshot per statement) sees the first as finished.
    SELECT mj.* INTO m FROM media_objects o JOIN media_jobs mj ON mj.id = o.media_job_id
    WHERE o.job_id = NEW.id FOR UPDATE OF mj;
    IF NOT FOUND THEN
        RETURN NULL;  -- not an object of a media job (or the media job is being deleted)
    END IF;
    IF NEW.status <> 'succeeded' THEN
        UPDATE media_objects SET refunded = true
        WHERE job_id = NEW.id AND NOT refunded AND credits > 0
        RETURNING credits INTO refund;
        IF refund IS NOT NULL THEN
            UPDATE media_jobs SET credits_spent = credits_spent - refund WHERE id = m.id;
            UPDATE accounts SET credits = credits + refund, credits_spent = credits_spent - refund
            WHERE id = m.account_id;
        END IF;
    END IF;
    SELECT count(*), count(*) FILTER (WHERE j.status IS NULL OR j.status IN ('succeeded', 'failed', 'canceled')),
           count(*) FILTER (WHERE j.status = 'succeeded')
      INTO total, done, ok
      FROM media_objects o LEFT JOIN jobs j ON j.id = o.job_id
     WHERE o.media_job_id = m.id;
    IF done = total AND m.finished_at IS NULL THEN
        UPDATE media_jobs SET finished_at = now() WHERE id = m.id RETURNING * INTO m;
        -- The callbacks outbox (0003) sends it: its email subject reads "Job <job_id> finished".
        IF m.email IS NOT NULL AND to_regclass('deliveries') IS NOT NULL THEN
            INSERT INTO deliveries (job_id, run, job_status, target, body)
            VALUES (NEW.id, NEW.run, NEW.status, m.email, jsonb_build_object(
                'job_id', m.id, 'job_name', m.name, 'status', 'finished', 'objects', total,
                'processed', ok, 'failed_to_process', total - ok, 'credits_spent', m.credits_spent,
                'details', '/rekosearch/api/v1/jobs/get?job-id=' || m.id)::text)
            ON CONFLICT (job_id, run) DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_media_object_finished AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.type = 'media.analyze' AND NEW.status IN ('succeeded', 'failed', 'canceled')
                       AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION media_object_finished();
