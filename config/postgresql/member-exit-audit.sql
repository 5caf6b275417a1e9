-- The central store for member-exit-audit lines: one row per exit, whichever instance wrote it and
-- however often it was shipped. Load once into the database the shippers write to:
--   psql "$DSN" -v ON_ERROR_STOP=1 -f member-exit-audit.sql
-- Running it again changes nothing (every statement is IF NOT EXISTS or OR REPLACE).
-- Proved: test/system/store.test.ts loads this file into a PostgreSQL it starts (docs/scaling.md).

-- One row per id. The id is a hash of the exit (docs/audit-line.md), so a callback the IM backend
-- resent, a callback two instances both wrote (HAProxy moved it off a stalled one), and a line
-- shipped twice (a shipper restarted, a rotated file read again) all carry the same id and
-- collapse into the first row stored. Two lines with the same id differ at most in receivedAt
-- (when each instance got it): the row keeps the first one shipped.
CREATE TABLE IF NOT EXISTS member_exit_audit (
    id           text PRIMARY KEY,
    time         timestamptz NOT NULL,
    event        text NOT NULL,
    sdk_app_id   text NOT NULL,
    group_id     text NOT NULL,
    group_type   text NOT NULL,
    exit_type    text NOT NULL,
    -- null for a dismissal (Destroyed); member null on the one line of a Community's dismissal.
    operator     text,
    member       text,
    event_time   bigint,
    received_at  timestamptz NOT NULL,
    client_ip    text,
    opt_platform text,
    -- Only with audit.chain on (docs/investigating.md).
    prev         text,
    -- The line as the service wrote it, byte for byte: evidence, and what `verify` and `query` read.
    -- text, not jsonb: jsonb reorders keys and would no longer hash to `prev`.
    line         text NOT NULL,
    -- Who shipped it (the shipper's host name) and when it was stored: for tracing, not for queries.
    shipped_by   text,
    stored_at    timestamptz NOT NULL DEFAULT now()
);

-- The questions `member-exit-audit query --member / --group / --since` answer, newest first.
CREATE INDEX IF NOT EXISTS member_exit_audit_member ON member_exit_audit (member, time);
CREATE INDEX IF NOT EXISTS member_exit_audit_group ON member_exit_audit (group_id, time);
CREATE INDEX IF NOT EXISTS member_exit_audit_time ON member_exit_audit (time);

-- The seals (`"event":"seal"`, docs/audit-line.md), one row each: a copy off the box of what
-- `verify --verify-key` checks, and what shows a trail deleted or cut back on the box (the newest
-- seal here is newer than the newest one there). Each instance seals its own trail with its own key
-- (`key` is the key's fingerprint); `id` covers the key, the epoch and the chain head, so seals of
-- different instances never collide.
CREATE TABLE IF NOT EXISTS member_exit_audit_seal (
    id         text PRIMARY KEY,
    time       timestamptz NOT NULL,
    epoch      bigint NOT NULL,
    final      boolean NOT NULL,
    key        text NOT NULL,
    mac        text NOT NULL,
    prev       text NOT NULL,
    line       text NOT NULL,
    shipped_by text,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS member_exit_audit_seal_key ON member_exit_audit_seal (key, epoch);

-- Lines that could not be stored (not JSON, no id, a field of the wrong type): kept, never dropped,
-- so that one bad line cannot stop the shipper or take the lines around it down with it.
CREATE TABLE IF NOT EXISTS member_exit_audit_rejected (
    line       text NOT NULL,
    error      text NOT NULL,
    shipped_by text,
    stored_at  timestamptz NOT NULL DEFAULT now()
);

-- One line in: stored (true), already there (false), or not a line it can store (null: kept in
-- member_exit_audit_rejected). The one mapping from line to row, used by the shipper
-- (config/shippers/rsyslog-pgsql.conf) and by the catch-up (catch-up.sql). A bad line does not
-- raise: the shipper commits lines in batches, and one error would undo the batch and be retried
-- for ever. Anything else (the database full, read-only, the table gone) does raise, so that the
-- shipper keeps the batch and tries again.
CREATE OR REPLACE FUNCTION member_exit_audit_ingest(raw text, shipper text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
    n integer;
BEGIN
    j := raw::jsonb;
    IF j->>'event' = 'seal' THEN
        INSERT INTO member_exit_audit_seal (id, time, epoch, final, key, mac, prev, line, shipped_by)
        VALUES (j->>'id', (j->>'time')::timestamptz, (j->>'epoch')::bigint, (j->>'final')::boolean,
                j->>'key', j->>'mac', j->>'prev', raw, shipper)
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n = 1;
    END IF;
    INSERT INTO member_exit_audit (id, time, event, sdk_app_id, group_id, group_type, exit_type,
                                   operator, member, event_time, received_at, client_ip,
                                   opt_platform, prev, line, shipped_by)
    VALUES (j->>'id', (j->>'time')::timestamptz, j->>'event', j->>'sdkAppId', j->>'groupId',
            j->>'groupType', j->>'exitType', j->>'operator', j->>'member',
            (j->>'eventTime')::bigint, (j->>'receivedAt')::timestamptz, j->>'clientIp',
            j->>'optPlatform', j->>'prev', raw, shipper)
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n = 1;
-- Class 22 (not JSON, not a time, not a number) and 23 (a NOT NULL field missing).
EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
    INSERT INTO member_exit_audit_rejected (line, error, shipped_by) VALUES (raw, SQLERRM, shipper);
    RETURN NULL;
END
$$;
