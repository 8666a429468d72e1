-- Image jobs: finding whose upload a job may read.

-- image_job_account --
SELECT account_id FROM jobs WHERE public_id = %(public_id)s;
