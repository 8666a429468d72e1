-- API processes cache who a key belongs to; a change to a key or to what an account's keys
-- grant tells them to forget it (channel `jobline_auth`, one notice per statement).
CREATE FUNCTION auth_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobline_auth', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();

CREATE TRIGGER accounts_changed AFTER UPDATE OF name, role, referers, max_in_flight OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify();
