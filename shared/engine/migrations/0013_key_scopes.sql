-- Key scopes: read-only keys beside secret and public ones (shared/accounts.py SCOPES), and
-- which public key created which job, so a public key reads back only its own tasks.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('secret', 'read', 'public'));

CREATE TABLE public_key_jobs (
    job_id  bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    key_id  bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE
);
CREATE INDEX public_key_jobs_key ON public_key_jobs (key_id);

-- The webhook signing secret is shown once, when it is rotated; this says when that was. For a
-- day after, deliveries carry a signature by the previous secret too (Standard Webhooks allows
-- several), so receivers can switch secrets without rejecting anything.
ALTER TABLE accounts ADD COLUMN webhook_secret_rotated_at timestamptz,
                     ADD COLUMN webhook_secret_previous text;
