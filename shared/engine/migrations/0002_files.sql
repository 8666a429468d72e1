-- Output and uploaded files of jobs (the bytes live in the object store), and the
-- instance secret that signs download links when JOBLINE_SECRET_KEY is not set.

CREATE TABLE job_files (
    job_id       bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    key          text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);

CREATE TABLE instance_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
-- gen_random_uuid() draws from the server's strong random source: 244 random bits.
INSERT INTO instance_secrets (name, value)
VALUES ('signing_key', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
