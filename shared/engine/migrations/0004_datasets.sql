-- Datasets of RDF triples (Kasabi's stores), in generations so that a reset is one UPDATE.
--
-- A dataset's visible triples are the rows of its current `generation`. A reset swaps to a
-- new, empty generation in one transaction; the old rows are invisible from that commit on
-- and are deleted in batches afterwards (dataset.reclaim), so a reset never shows a
-- half-emptied dataset. Writers lock the dataset row FOR SHARE and write into the
-- generation they read under that lock; the swap's UPDATE waits for them, so no write
-- lands in an old generation once the new one is visible.

CREATE TABLE datasets (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),  -- Kasabi's short code
    title       text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    generation  bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    reset_at    timestamptz,               -- last generation swap
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_account ON datasets (account_id, code);

-- Each term is stored in canonical N-Triples syntax (shared/rdf.py), so an export is a
-- concatenation. `h` = md5 of "s p o": a fixed-width identity for de-duplication (terms can
-- be longer than a btree entry allows) and a stable order for keyset pagination.
-- No foreign key to datasets: a per-row RI check costs a bulk load dearly, and rows are
-- only ever written under a lock on their dataset row (deleting a dataset deletes them).
CREATE TABLE triples (
    dataset_id  bigint NOT NULL,
    generation  bigint NOT NULL,
    h           uuid NOT NULL,
    s           text NOT NULL,
    p           text NOT NULL,
    o           text NOT NULL,
    PRIMARY KEY (dataset_id, generation, h)
);

-- Triple counts as deltas (one row per write, compacted now and then): counting a
-- million-triple dataset sums a few rows instead of scanning. Append-only, so concurrent
-- writers never wait on each other as they would updating one counter row.
CREATE TABLE triple_counts (
    id          bigserial PRIMARY KEY,
    dataset_id  bigint NOT NULL,
    generation  bigint NOT NULL,
    delta       bigint NOT NULL
);
CREATE INDEX triple_counts_dataset ON triple_counts (dataset_id, generation);

-- A dataset is read-only while one of its owner's dataset.reset jobs is running: writers
-- look it up here (only running resets are indexed, so it stays tiny).
CREATE INDEX jobs_running_dataset_resets ON jobs (account_id, (params->>'dataset'))
    WHERE type = 'dataset.reset' AND status = 'running';
