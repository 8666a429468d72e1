-- PHYLOViZ (phyloDB) resources: catalogue, projects, datasets, analyses and project jobs.
-- Catalogue writes are upserts guarded by ownership: a conflicting row owned by another
-- account (unless %(admin)s) matches no row, and the caller answers 403.

-- phylo_list_taxa --
SELECT id, version, description FROM phylo_taxa WHERE NOT deprecated
ORDER BY id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_taxon --
SELECT id, version, deprecated, description FROM phylo_taxa WHERE id = %(id)s;

-- phylo_taxon_owner --
SELECT created_by FROM phylo_taxa WHERE id = %(id)s AND NOT deprecated;

-- phylo_put_taxon --
INSERT INTO phylo_taxa AS t (id, description, created_by)
VALUES (%(id)s, %(description)s, %(account_id)s)
ON CONFLICT (id) DO UPDATE
SET description = EXCLUDED.description, version = t.version + 1, deprecated = false
WHERE t.created_by = %(account_id)s OR t.created_by IS NULL OR %(admin)s
RETURNING (xmax = 0) AS created;

-- phylo_deprecate_taxon --
UPDATE phylo_taxa SET deprecated = true
WHERE id = %(id)s AND (created_by = %(account_id)s OR created_by IS NULL OR %(admin)s)
RETURNING id;

-- phylo_list_loci --
SELECT taxon_id, id, version, description FROM phylo_loci
WHERE taxon_id = %(taxon_id)s AND NOT deprecated
ORDER BY id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_locus --
SELECT taxon_id, id, version, deprecated, description FROM phylo_loci
WHERE taxon_id = %(taxon_id)s AND id = %(id)s;

-- phylo_live_loci --
SELECT id FROM phylo_loci WHERE taxon_id = %(taxon_id)s AND id = ANY(%(ids)s) AND NOT deprecated;

-- phylo_put_locus --
INSERT INTO phylo_loci AS l (taxon_id, id, description, created_by)
VALUES (%(taxon_id)s, %(id)s, %(description)s, %(account_id)s)
ON CONFLICT (taxon_id, id) DO UPDATE
SET description = EXCLUDED.description, version = l.version + 1, deprecated = false
WHERE l.created_by = %(account_id)s OR l.created_by IS NULL OR %(admin)s
RETURNING (xmax = 0) AS created;

-- phylo_deprecate_locus --
UPDATE phylo_loci SET deprecated = true
WHERE taxon_id = %(taxon_id)s AND id = %(id)s
  AND (created_by = %(account_id)s OR created_by IS NULL OR %(admin)s)
RETURNING id;

-- phylo_list_schemas --
SELECT taxon_id, id, version, type, description FROM phylo_schemas
WHERE taxon_id = %(taxon_id)s AND NOT deprecated
ORDER BY id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_schema --
SELECT taxon_id, id, version, deprecated, type, description, loci FROM phylo_schemas
WHERE taxon_id = %(taxon_id)s AND id = %(id)s;

-- phylo_live_schema --
SELECT s.loci FROM phylo_schemas s JOIN phylo_taxa t ON t.id = s.taxon_id
WHERE s.taxon_id = %(taxon_id)s AND s.id = %(id)s AND NOT s.deprecated AND NOT t.deprecated;

-- phylo_put_schema --
INSERT INTO phylo_schemas AS s (taxon_id, id, type, description, loci, created_by)
VALUES (%(taxon_id)s, %(id)s, %(type)s, %(description)s, %(loci)s, %(account_id)s)
ON CONFLICT (taxon_id, id) DO UPDATE
SET type = EXCLUDED.type, description = EXCLUDED.description, loci = EXCLUDED.loci,
    version = s.version + 1, deprecated = false
WHERE s.created_by = %(account_id)s OR s.created_by IS NULL OR %(admin)s
RETURNING (xmax = 0) AS created;

-- phylo_deprecate_schema --
UPDATE phylo_schemas SET deprecated = true
WHERE taxon_id = %(taxon_id)s AND id = %(id)s
  AND (created_by = %(account_id)s OR created_by IS NULL OR %(admin)s)
RETURNING id;

-- phylo_list_projects --
SELECT id, version, name, visibility FROM phylo_projects
WHERE account_id = %(account_id)s OR %(name)s = ANY(members) OR visibility = 'public'
ORDER BY length(id), id
LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_project --
SELECT p.*, (p.account_id = %(account_id)s OR %(name)s = ANY(p.members)) AS member
FROM phylo_projects p WHERE p.id = %(id)s;

-- phylo_create_project --
INSERT INTO phylo_projects (id, account_id, name, visibility, description, users, members)
VALUES (coalesce(%(id)s, gen_random_uuid()::text), %(account_id)s, %(name)s, %(visibility)s,
        %(description)s, %(users)s, %(members)s)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- phylo_update_project --
UPDATE phylo_projects
SET name = %(name)s, visibility = %(visibility)s, description = %(description)s,
    users = %(users)s, members = %(members)s, version = version + 1
WHERE id = %(id)s
RETURNING id;

-- phylo_delete_project --
DELETE FROM phylo_projects WHERE id = %(id)s RETURNING id;

-- phylo_list_datasets --
SELECT id, version, description FROM phylo_datasets
WHERE project_id = %(project_id)s
ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_dataset --
SELECT d.id, d.project_id, d.taxon_id, d.schema_id, d.description, d.version, s.loci,
       coalesce(p.n, 0) AS profiles, coalesce(i.rows, 0) AS isolates
FROM phylo_datasets d
JOIN phylo_schemas s ON s.taxon_id = d.taxon_id AND s.id = d.schema_id
LEFT JOIN phylo_profiles p ON p.dataset_id = d.id
LEFT JOIN phylo_isolates i ON i.dataset_id = d.id
WHERE d.id = %(id)s AND d.project_id = %(project_id)s;

-- phylo_create_dataset --
INSERT INTO phylo_datasets (id, project_id, taxon_id, schema_id, description)
VALUES (coalesce(%(id)s, gen_random_uuid()::text), %(project_id)s, %(taxon_id)s, %(schema_id)s, %(description)s)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- phylo_update_dataset --
UPDATE phylo_datasets SET description = %(description)s, version = version + 1
WHERE id = %(id)s RETURNING id;

-- phylo_delete_dataset --
DELETE FROM phylo_datasets WHERE id = %(id)s RETURNING id;

-- phylo_lock_dataset --
SELECT id FROM phylo_datasets WHERE id = %(id)s FOR UPDATE;

-- phylo_get_profiles --
SELECT ids, width, alleles, labels FROM phylo_profiles WHERE dataset_id = %(dataset_id)s;

-- phylo_save_profiles --
INSERT INTO phylo_profiles (dataset_id, ids, width, alleles, labels)
VALUES (%(dataset_id)s, %(ids)s, %(width)s, %(alleles)s, %(labels)s)
ON CONFLICT (dataset_id) DO UPDATE
SET ids = EXCLUDED.ids, width = EXCLUDED.width, alleles = EXCLUDED.alleles, labels = EXCLUDED.labels;

-- phylo_get_profile_ids --
SELECT ids FROM phylo_profiles WHERE dataset_id = %(dataset_id)s;

-- phylo_get_schema_profiles --
SELECT s.loci, p.ids, p.width, p.alleles, p.labels
FROM phylo_datasets d
JOIN phylo_schemas s ON s.taxon_id = d.taxon_id AND s.id = d.schema_id
LEFT JOIN phylo_profiles p ON p.dataset_id = d.id
WHERE d.id = %(dataset_id)s;

-- phylo_save_isolates --
INSERT INTO phylo_isolates (dataset_id, counts, rows, members)
VALUES (%(dataset_id)s, %(counts)s, %(rows)s, %(members)s)
ON CONFLICT (dataset_id) DO UPDATE
SET counts = EXCLUDED.counts, rows = EXCLUDED.rows, members = EXCLUDED.members;

-- phylo_get_isolates --
SELECT counts FROM phylo_isolates WHERE dataset_id = %(dataset_id)s;

-- phylo_get_isolate_members --
SELECT members FROM phylo_isolates WHERE dataset_id = %(dataset_id)s;

-- phylo_save_alleles --
INSERT INTO phylo_alleles AS a (taxon_id, locus_id, id, sequence, created_by)
SELECT %(taxon_id)s, %(locus_id)s, x.id, x.sequence, %(account_id)s
FROM unnest(%(ids)s::text[], %(sequences)s::text[]) AS x (id, sequence)
ON CONFLICT (taxon_id, locus_id, id) DO UPDATE
SET sequence = EXCLUDED.sequence, version = a.version + 1
WHERE %(replace)s;

-- phylo_list_alleles --
SELECT taxon_id, locus_id, id, version FROM phylo_alleles
WHERE taxon_id = %(taxon_id)s AND locus_id = %(locus_id)s
ORDER BY length(id), id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_allele --
SELECT taxon_id, locus_id, id, version, sequence FROM phylo_alleles
WHERE taxon_id = %(taxon_id)s AND locus_id = %(locus_id)s AND id = %(id)s;

-- phylo_create_inference --
INSERT INTO phylo_inferences (id, project_id, dataset_id, algorithm, lvs, job_id)
VALUES (%(id)s, %(project_id)s, %(dataset_id)s, %(algorithm)s, %(lvs)s, %(job_id)s);

-- phylo_create_visualization --
INSERT INTO phylo_visualizations (id, project_id, dataset_id, inference_id, algorithm, job_id)
VALUES (%(id)s, %(project_id)s, %(dataset_id)s, %(inference_id)s, %(algorithm)s, %(job_id)s);

-- phylo_link_job --
INSERT INTO phylo_jobs (job_id, project_id, analysis, analysis_id)
VALUES (%(job_id)s, %(project_id)s, %(analysis)s, %(analysis_id)s);

-- phylo_list_jobs --
SELECT j.public_id, j.status FROM phylo_jobs p JOIN jobs j ON j.id = p.job_id
WHERE p.project_id = %(project_id)s AND p.removed_at IS NULL
ORDER BY p.job_id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_project_job --
SELECT p.job_id, p.analysis, p.analysis_id, j.account_id, j.status
FROM phylo_jobs p JOIN jobs j ON j.id = p.job_id
WHERE p.project_id = %(project_id)s AND j.public_id = %(public_id)s AND p.removed_at IS NULL;

-- phylo_unfinished_jobs --
SELECT j.account_id, j.public_id
FROM phylo_jobs p JOIN jobs j ON j.id = p.job_id
LEFT JOIN phylo_inferences i ON p.analysis = 'inference' AND i.id = p.analysis_id
LEFT JOIN phylo_visualizations v ON p.analysis = 'visualization' AND v.id = p.analysis_id
WHERE p.project_id = %(project_id)s AND j.status IN ('scheduled', 'queued', 'running')
  AND (%(dataset_id)s::text IS NULL OR coalesce(i.dataset_id, v.dataset_id) = %(dataset_id)s::text);

-- phylo_remove_job --
UPDATE phylo_jobs SET removed_at = now() WHERE job_id = %(job_id)s AND removed_at IS NULL RETURNING job_id;

-- phylo_drop_pending_inference --
DELETE FROM phylo_inferences WHERE id = %(id)s AND tree IS NULL RETURNING id;

-- phylo_drop_pending_visualization --
DELETE FROM phylo_visualizations WHERE id = %(id)s AND layout IS NULL RETURNING id;

-- phylo_list_inferences --
SELECT id, algorithm, lvs, finished_at FROM phylo_inferences
WHERE dataset_id = %(dataset_id)s AND tree IS NOT NULL
ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_inference --
SELECT i.*, j.status AS job_status, j.error AS job_error
FROM phylo_inferences i LEFT JOIN jobs j ON j.id = i.job_id
WHERE i.id = %(id)s AND i.dataset_id = %(dataset_id)s;

-- phylo_list_visualizations --
SELECT id, algorithm, finished_at FROM phylo_visualizations
WHERE inference_id = %(inference_id)s AND layout IS NOT NULL
ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s;

-- phylo_get_visualization --
SELECT v.*, j.status AS job_status, j.error AS job_error
FROM phylo_visualizations v LEFT JOIN jobs j ON j.id = v.job_id
WHERE v.id = %(id)s AND v.dataset_id = %(dataset_id)s
  AND (%(inference_id)s::uuid IS NULL OR v.inference_id = %(inference_id)s::uuid);

-- phylo_inference_for_job --
SELECT i.id, i.dataset_id, i.lvs FROM phylo_inferences i JOIN jobs j ON j.id = i.job_id
WHERE i.id = %(id)s AND j.public_id = %(public_id)s;

-- phylo_store_inference --
UPDATE phylo_inferences i SET tree = %(tree)s::json, finished_at = now()
FROM jobs j
WHERE i.id = %(id)s AND j.id = i.job_id AND j.public_id = %(public_id)s
RETURNING i.id;

-- phylo_visualization_for_job --
SELECT v.id, v.inference_id, i.tree
FROM phylo_visualizations v
JOIN jobs j ON j.id = v.job_id
JOIN phylo_inferences i ON i.id = v.inference_id
WHERE v.id = %(id)s AND j.public_id = %(public_id)s;

-- phylo_store_visualization --
UPDATE phylo_visualizations v SET layout = %(layout)s::json, finished_at = now()
FROM jobs j
WHERE v.id = %(id)s AND j.id = v.job_id AND j.public_id = %(public_id)s
RETURNING v.id;

-- phylo_store_uploaded_inference --
INSERT INTO phylo_inferences (id, project_id, dataset_id, algorithm, lvs, tree, finished_at)
VALUES (%(id)s, %(project_id)s, %(dataset_id)s, %(algorithm)s, %(lvs)s, %(tree)s::json, now());

-- phylo_job_account --
SELECT a.* FROM jobs j JOIN accounts a ON a.id = j.account_id WHERE j.public_id = %(public_id)s;
