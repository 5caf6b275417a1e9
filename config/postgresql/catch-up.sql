-- Catch the store up from trail files: after rsyslog was down across two rotations, after a crash
-- of rsyslog, or to fill a new store from the trail. The files are the source of truth; lines the
-- store has are ignored by id, so running it twice, or over files already shipped, changes nothing.
--   member-exit-audit query /var/log/member-exit-audit/member-exit.ndjson.2.gz \
--     | psql "$DSN" -X -q -v ON_ERROR_STOP=1 -f catch-up.sql
-- (every instance's trail: /var/log/member-exit-audit/*/member-exit.ndjson*; query reads gzip).
-- It prints: lines read, rows stored (new), lines rejected (not a line the store can hold).

CREATE TEMP TABLE member_exit_audit_staging (line text NOT NULL);

-- CSV with a delimiter and a quote character that no line holds (JSON escapes every control
-- character), so each line arrives as it is: COPY's text format would read the backslashes of
-- JSON escapes (\" \u0001) as its own.
\copy member_exit_audit_staging (line) FROM pstdin WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')

SELECT count(*) AS lines,
       count(*) FILTER (WHERE stored) AS stored,
       count(*) FILTER (WHERE stored IS NULL) AS rejected
FROM (SELECT member_exit_audit_ingest(line, 'catch-up') AS stored FROM member_exit_audit_staging) AS s;
