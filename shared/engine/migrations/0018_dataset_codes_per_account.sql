-- Dataset codes are unique per account, not across accounts: a code another account took
-- answers a create as a free one does, so no account can discover another's datasets
-- (a 409 on create, or a 401 against a 404 on use, used to tell them apart).
ALTER TABLE datasets DROP CONSTRAINT datasets_code_key;
DROP INDEX datasets_account;
CREATE UNIQUE INDEX datasets_account_code ON datasets (account_id, code);
