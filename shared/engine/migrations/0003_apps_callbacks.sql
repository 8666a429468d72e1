-- Apps (named configurations of a job type), callbacks, and every attempt to deliver them.
--
-- No callback is lost: the pending delivery row is inserted by a trigger in the same
-- transaction as the job's terminal transition, so a job is never finished without its
-- delivery being on record. Workers and beat then publish and attempt it (shared/callbacks.py).

CREATE TABLE apps (
    id           bigserial PRIMARY KEY,
    -- 32 hex digits, upper case as the Canotic document shows them; lookups upper-case the input.
    public_id    text NOT NULL UNIQUE DEFAULT upper(replace(gen_random_uuid()::text, '-', ''))
                 CHECK (public_id ~ '^[0-9A-F]{32}$'),
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type         text NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}',   -- defaults; each input's keys override them
    input_map    jsonb NOT NULL DEFAULT '{}',   -- input key → parameter name (e.g. data_url → url)
    callback_url text CHECK (length(callback_url) <= 2048),
    created_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz                    -- soft delete: its jobs keep showing its id
);
CREATE INDEX apps_account ON apps (account_id, id) WHERE deleted_at IS NULL;

-- Signs webhooks (Standard Webhooks: whsec_ + base64 of 32 bytes, 244 of them random).
ALTER TABLE accounts ADD COLUMN webhook_secret text NOT NULL DEFAULT
    'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64');

ALTER TABLE jobs
    ADD COLUMN app_id bigint REFERENCES apps (id) ON DELETE SET NULL,
    ADD COLUMN input jsonb,                -- the input as the client sent it (jobs of an app)
    ADD COLUMN callback_succeeded boolean; -- NULL: none yet; true: delivered; false: given up
CREATE INDEX jobs_app ON jobs (app_id, id) WHERE app_id IS NOT NULL;

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    public_id       uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),  -- webhook-id: the same on every attempt
    job_id          bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    run             integer NOT NULL,
    job_status      job_status NOT NULL,
    target          text NOT NULL,          -- an http(s) URL, or an email address
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    body            text,                   -- the JSON sent: built at the first attempt, the same bytes on every retry
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    dispatched_at   timestamptz,            -- its message was published (NULL: none in flight)
    locked_until    timestamptz,            -- an attempt is in progress until then
    finished_at     timestamptz,
    last_error      text,
    UNIQUE (job_id, run),
    CONSTRAINT finished_iff_done CHECK ((finished_at IS NOT NULL) = (state <> 'pending'))
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer,                    -- the receiver's HTTP status (or SMTP reply code)
    error       text,                       -- NULL: delivered
    response    text                        -- the first bytes of the receiver's answer
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- The outbox row, in the transaction of the terminal transition. Target: the job's
-- callback URL, else its app's, else the account's default.
CREATE FUNCTION jobs_enqueue_callback() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target text;
BEGIN
    SELECT coalesce(nullif(NEW.callback_url, ''), nullif(a.callback_url, ''), nullif(acc.default_callback_url, ''))
      INTO target
      FROM accounts acc LEFT JOIN apps a ON a.id = NEW.app_id
     WHERE acc.id = NEW.account_id;
    IF target IS NOT NULL THEN
        INSERT INTO deliveries (job_id, run, job_status, target)
        VALUES (NEW.id, NEW.run, NEW.status, target)
        ON CONFLICT (job_id, run) DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_enqueue_callback AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'canceled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION jobs_enqueue_callback();

-- A restarted job has not had its new run's callback yet.
CREATE FUNCTION jobs_reset_callback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.callback_succeeded := NULL;
    RETURN NEW;
END $$;

CREATE TRIGGER jobs_reset_callback BEFORE UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IN ('succeeded', 'failed', 'canceled') AND NEW.status = 'queued')
    EXECUTE FUNCTION jobs_reset_callback();
