-- Accounts, API keys and idempotency keys.

-- create_account --
INSERT INTO accounts (name, role, referers, max_in_flight)
VALUES (%(name)s, %(role)s, %(referers)s, %(max_in_flight)s)
RETURNING *;

-- get_account_by_name --
SELECT * FROM accounts WHERE name = %(name)s;

-- update_account --
UPDATE accounts SET referers = coalesce(%(referers)s, referers),
                    max_in_flight = coalesce(%(max_in_flight)s, max_in_flight)
WHERE name = %(name)s RETURNING *;

-- create_key --
INSERT INTO api_keys (account_id, prefix, digest, kind, label)
VALUES (%(account_id)s, %(prefix)s, %(digest)s, %(kind)s, %(label)s)
RETURNING id, prefix, kind, label, created_at;

-- find_key --
SELECT k.id AS key_id, k.digest, k.kind, k.revoked_at, a.*
FROM api_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.prefix = %(prefix)s;

-- list_keys --
SELECT prefix, kind, label, created_at, revoked_at FROM api_keys
WHERE account_id = %(account_id)s ORDER BY id;

-- revoke_key --
UPDATE api_keys SET revoked_at = now() WHERE prefix = %(prefix)s AND revoked_at IS NULL
RETURNING prefix, revoked_at;

-- purge_idempotency_keys --
DELETE FROM idempotency_keys WHERE created_at < now() - %(ttl_s)s * interval '1 second';

-- claim_idempotency_key --
INSERT INTO idempotency_keys (account_id, key, request_hash)
VALUES (%(account_id)s, %(key)s, %(request_hash)s)
ON CONFLICT DO NOTHING
RETURNING key;

-- get_idempotency_key --
SELECT request_hash, response_status, response FROM idempotency_keys
WHERE account_id = %(account_id)s AND key = %(key)s;

-- save_idempotency_response --
UPDATE idempotency_keys SET response_status = %(status)s, response = %(response)s
WHERE account_id = %(account_id)s AND key = %(key)s;

-- expire_idempotency_key --
DELETE FROM idempotency_keys
WHERE account_id = %(account_id)s AND key = %(key)s
  AND created_at < now() - %(ttl_s)s * interval '1 second';
