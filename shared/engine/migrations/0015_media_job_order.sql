-- Media job ids are drawn at random now (shared/media.py): an account's list is in creation
-- order, so its index follows created_at instead of the id.
DROP INDEX IF EXISTS media_jobs_account;
CREATE INDEX media_jobs_account ON media_jobs (account_id, created_at DESC, id DESC);
