-- PHYLOViZ, as phyloDB's real clients use it:
-- * project and dataset ids are the client's choice (the web platform creates them with
--   PUT and MongoDB ObjectIds), so they become text; generated ones stay uuids as text;
-- * allele sequences uploaded as FASTA (phyloDB's alleles/files), per taxon and locus;
-- * allele ids are opaque strings where not plain numbers: ``labels`` names the codes
--   <= -2 of the profile matrix (code -2 - k is labels[k]);
-- * isolates are kept by isolate id (an id repeated in a file or across files counts once).

ALTER TABLE phylo_datasets DROP CONSTRAINT phylo_datasets_project_id_fkey;
ALTER TABLE phylo_inferences DROP CONSTRAINT phylo_inferences_project_id_fkey;
ALTER TABLE phylo_inferences DROP CONSTRAINT phylo_inferences_dataset_id_fkey;
ALTER TABLE phylo_visualizations DROP CONSTRAINT phylo_visualizations_project_id_fkey;
ALTER TABLE phylo_visualizations DROP CONSTRAINT phylo_visualizations_dataset_id_fkey;
ALTER TABLE phylo_jobs DROP CONSTRAINT phylo_jobs_project_id_fkey;
ALTER TABLE phylo_profiles DROP CONSTRAINT phylo_profiles_dataset_id_fkey;
ALTER TABLE phylo_isolates DROP CONSTRAINT phylo_isolates_dataset_id_fkey;

ALTER TABLE phylo_projects ALTER COLUMN id DROP DEFAULT,
    ALTER COLUMN id TYPE text USING id::text,
    ALTER COLUMN id SET DEFAULT gen_random_uuid()::text,
    ADD CONSTRAINT phylo_projects_id_shape CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$');
ALTER TABLE phylo_datasets ALTER COLUMN id DROP DEFAULT,
    ALTER COLUMN id TYPE text USING id::text,
    ALTER COLUMN id SET DEFAULT gen_random_uuid()::text,
    ALTER COLUMN project_id TYPE text USING project_id::text,
    ADD CONSTRAINT phylo_datasets_id_shape CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$');
ALTER TABLE phylo_inferences ALTER COLUMN project_id TYPE text USING project_id::text,
    ALTER COLUMN dataset_id TYPE text USING dataset_id::text;
ALTER TABLE phylo_visualizations ALTER COLUMN project_id TYPE text USING project_id::text,
    ALTER COLUMN dataset_id TYPE text USING dataset_id::text;
ALTER TABLE phylo_jobs ALTER COLUMN project_id TYPE text USING project_id::text;
ALTER TABLE phylo_profiles ALTER COLUMN dataset_id TYPE text USING dataset_id::text;
ALTER TABLE phylo_isolates ALTER COLUMN dataset_id TYPE text USING dataset_id::text;

ALTER TABLE phylo_datasets ADD FOREIGN KEY (project_id) REFERENCES phylo_projects (id) ON DELETE CASCADE;
ALTER TABLE phylo_inferences ADD FOREIGN KEY (project_id) REFERENCES phylo_projects (id) ON DELETE CASCADE,
    ADD FOREIGN KEY (dataset_id) REFERENCES phylo_datasets (id) ON DELETE CASCADE;
ALTER TABLE phylo_visualizations ADD FOREIGN KEY (project_id) REFERENCES phylo_projects (id) ON DELETE CASCADE,
    ADD FOREIGN KEY (dataset_id) REFERENCES phylo_datasets (id) ON DELETE CASCADE;
ALTER TABLE phylo_jobs ADD FOREIGN KEY (project_id) REFERENCES phylo_projects (id) ON DELETE CASCADE;
ALTER TABLE phylo_profiles ADD FOREIGN KEY (dataset_id) REFERENCES phylo_datasets (id) ON DELETE CASCADE;
ALTER TABLE phylo_isolates ADD FOREIGN KEY (dataset_id) REFERENCES phylo_datasets (id) ON DELETE CASCADE;

ALTER TABLE phylo_profiles ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
ALTER TABLE phylo_isolates ADD COLUMN members jsonb NOT NULL DEFAULT '{}';  -- isolate id -> ST or null

CREATE TABLE phylo_alleles (
    taxon_id    text NOT NULL,
    locus_id    text NOT NULL,
    id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 200),
    sequence    text NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    created_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    PRIMARY KEY (taxon_id, locus_id, id),
    FOREIGN KEY (taxon_id, locus_id) REFERENCES phylo_loci (taxon_id, id) ON DELETE CASCADE
);
