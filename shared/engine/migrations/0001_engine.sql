-- Accounts, API keys, jobs and their events, idempotency keys.

CREATE TABLE accounts (
    id                  bigserial PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role                text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    referers            text[] NOT NULL DEFAULT '{}',  -- hosts allowed to use public (Api-Key) keys
    max_in_flight       integer CHECK (max_in_flight > 0),  -- NULL: unlimited
    default_callback_url text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    prefix      text NOT NULL UNIQUE,           -- kept in clear for lookup
    digest      bytea NOT NULL,                 -- sha256 of the whole key; the key itself is never stored
    kind        text NOT NULL DEFAULT 'secret' CHECK (kind IN ('secret', 'public')),
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TYPE job_status AS ENUM ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'canceled');

CREATE TABLE jobs (
    id                  bigserial PRIMARY KEY,
    public_id           uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type                text NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    status              job_status NOT NULL,
    progress            real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    result              jsonb,
    error               text,
    run                 integer NOT NULL DEFAULT 1 CHECK (run >= 1),       -- bumped by restart
    attempt             integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),   -- claims within this run
    max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    priority            smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    queue               text NOT NULL,
    start_at            timestamptz,            -- requested start (scheduled jobs)
    run_after           timestamptz,            -- not claimable before (start_at, or a retry's backoff)
    created_at          timestamptz NOT NULL DEFAULT now(),
    queued_at           timestamptz,
    dispatched_at       timestamptz,            -- last time its message was published
    started_at          timestamptz,
    heartbeat_at        timestamptz,
    finished_at         timestamptz,
    cancel_requested_at timestamptz,
    worker              text,                   -- task id of the message that won the claim
    callback_url        text,
    metadata            jsonb NOT NULL DEFAULT '{}',
    idempotency_key     text,
    CONSTRAINT finished_iff_terminal
        CHECK ((finished_at IS NOT NULL) = (status IN ('succeeded', 'failed', 'canceled'))),
    CONSTRAINT scheduled_has_start CHECK (status <> 'scheduled' OR start_at IS NOT NULL),
    CONSTRAINT queued_has_queued_at CHECK (status <> 'queued' OR queued_at IS NOT NULL),
    CONSTRAINT running_has_started CHECK (status <> 'running' OR (started_at IS NOT NULL AND heartbeat_at IS NOT NULL)),
    CONSTRAINT succeeded_has_no_error CHECK (status <> 'succeeded' OR error IS NULL),
    CONSTRAINT failed_has_error CHECK (status <> 'failed' OR error IS NOT NULL)
);

CREATE INDEX jobs_account_id ON jobs (account_id, id DESC);
CREATE INDEX jobs_scheduled_due ON jobs (start_at) WHERE status = 'scheduled';
CREATE INDEX jobs_queued_dispatch ON jobs (dispatched_at) WHERE status = 'queued';
CREATE INDEX jobs_running_heartbeat ON jobs (heartbeat_at) WHERE status = 'running';

CREATE TABLE job_events (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    type        text NOT NULL,               -- a transition name, 'created', or 'progress'
    status      job_status NOT NULL,         -- the job's status after the event
    run         integer NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE idempotency_keys (
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

-- The database refuses every status change shared/states.py refuses.
CREATE FUNCTION jobs_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status::text, NEW.status::text) IN (
        ('scheduled', 'queued'),
        ('queued', 'running'),
        ('running', 'succeeded'), ('running', 'failed'), ('running', 'queued'),
        ('scheduled', 'canceled'), ('queued', 'canceled'), ('running', 'canceled'),
        ('succeeded', 'queued'), ('failed', 'queued'), ('canceled', 'queued')
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'job % cannot move from % to %', OLD.public_id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER jobs_transition BEFORE UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_check_transition();

-- Waiters (?wait=, SSE, blocking dialect calls) listen on one channel per API process.
CREATE FUNCTION job_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('job_events', NEW.job_id::text || ':' || NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
    FOR EACH ROW WHEN (NEW.type <> 'created') EXECUTE FUNCTION job_events_notify();
