-- PHYLOViZ (phyloDB) resources: a shared catalogue of taxa, loci and schemas; projects owned
-- by accounts and shared with named users; datasets of MLST profiles; inferences (goeBURST
-- trees) and visualizations (radial coordinates) filled by jobs of the `analysis` queue.

CREATE TABLE phylo_taxa (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    description text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    deprecated  boolean NOT NULL DEFAULT false,
    created_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,  -- may change it (or an admin)
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE phylo_loci (
    taxon_id    text NOT NULL REFERENCES phylo_taxa (id) ON DELETE CASCADE,
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    description text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    deprecated  boolean NOT NULL DEFAULT false,
    created_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    PRIMARY KEY (taxon_id, id)
);

CREATE TABLE phylo_schemas (
    taxon_id    text NOT NULL REFERENCES phylo_taxa (id) ON DELETE CASCADE,
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    type        text NOT NULL DEFAULT 'mlst',
    description text NOT NULL DEFAULT '',
    loci        text[] NOT NULL CHECK (cardinality(loci) >= 1),  -- column order of profiles
    version     integer NOT NULL DEFAULT 1,
    deprecated  boolean NOT NULL DEFAULT false,
    created_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    PRIMARY KEY (taxon_id, id)
);

CREATE TABLE phylo_projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,  -- the owner
    name        text NOT NULL,
    visibility  text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    description text NOT NULL DEFAULT '',
    users       jsonb NOT NULL DEFAULT '[]',     -- [{"id", "provider"}] as the client gave them
    members     text[] NOT NULL DEFAULT '{}',    -- account names among users: read and write
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX phylo_projects_account ON phylo_projects (account_id);
CREATE INDEX phylo_projects_members ON phylo_projects USING gin (members);

CREATE TABLE phylo_datasets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES phylo_projects (id) ON DELETE CASCADE,
    taxon_id    text NOT NULL,
    schema_id   text NOT NULL,
    description text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (taxon_id, schema_id) REFERENCES phylo_schemas (taxon_id, id)
);
CREATE INDEX phylo_datasets_project ON phylo_datasets (project_id, created_at);

-- All profiles of a dataset in one row: ids in row order (a goeBURST tie-break depends on
-- it) and the allele matrix as little-endian int32, row-major, -1 = missing. A job loads
-- 15k profiles in one fetch of ~0.5 MB instead of 15k rows.
CREATE TABLE phylo_profiles (
    dataset_id  uuid PRIMARY KEY REFERENCES phylo_datasets (id) ON DELETE CASCADE,
    ids         text[] NOT NULL,
    n           integer GENERATED ALWAYS AS (cardinality(ids)) STORED,  -- without detoasting ids
    width       integer NOT NULL CHECK (width >= 1),
    alleles     bytea NOT NULL,
    CHECK (length(alleles) = 4 * width * cardinality(ids))
);

-- Isolate counts per ST (goeBURST's isolate-frequency tie-break).
CREATE TABLE phylo_isolates (
    dataset_id  uuid PRIMARY KEY REFERENCES phylo_datasets (id) ON DELETE CASCADE,
    counts      jsonb NOT NULL,
    rows        integer NOT NULL
);

CREATE TABLE phylo_inferences (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES phylo_projects (id) ON DELETE CASCADE,
    dataset_id  uuid NOT NULL REFERENCES phylo_datasets (id) ON DELETE CASCADE,
    algorithm   text NOT NULL,
    lvs         integer NOT NULL,
    job_id      bigint REFERENCES jobs (id) ON DELETE SET NULL,
    tree        json,                   -- NULL until the job stores it (json: never queried
                                        -- inside, and 3x cheaper to write than jsonb at 10k)
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((tree IS NULL) = (finished_at IS NULL))
);
CREATE INDEX phylo_inferences_dataset ON phylo_inferences (dataset_id, created_at);

CREATE TABLE phylo_visualizations (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES phylo_projects (id) ON DELETE CASCADE,
    dataset_id   uuid NOT NULL REFERENCES phylo_datasets (id) ON DELETE CASCADE,
    inference_id uuid NOT NULL REFERENCES phylo_inferences (id) ON DELETE CASCADE,
    algorithm    text NOT NULL,
    job_id       bigint REFERENCES jobs (id) ON DELETE SET NULL,  -- its output file: layout.svg
    layout       json,                  -- NULL until the job stores it
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CHECK ((layout IS NULL) = (finished_at IS NULL))
);
CREATE INDEX phylo_visualizations_inference ON phylo_visualizations (inference_id, created_at);

-- The jobs of a project (any member may list or remove them, whoever created them).
-- Removing a job hides it; a finished job's row and files stay, as its analysis needs them.
CREATE TABLE phylo_jobs (
    job_id      bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL REFERENCES phylo_projects (id) ON DELETE CASCADE,
    analysis    text NOT NULL CHECK (analysis IN ('inference', 'visualization')),
    analysis_id uuid NOT NULL,
    removed_at  timestamptz
);
CREATE INDEX phylo_jobs_project ON phylo_jobs (project_id, job_id DESC) WHERE removed_at IS NULL;
