-- depends: 0006.review-candidates
-- Tables that grow with traffic (verifications, the holder's access log, the audit trail) become partitioned by
-- month, so that their indexes stay the size of a month and old months can be dropped whole (retention).
-- The hot path writes a verification and its audit entry in one statement: the audit heads of every shard exist
-- beforehand and keep their previous hash, so one UPDATE both locks and advances a shard's chain.

-- Creates the monthly partitions of `parent` covering [first_month, first_month + months), if they are missing.
-- Months are UTC months; partition names are <parent>_yYYYYmMM. Rows of a month that has no partition go to the
-- parent's DEFAULT partition, so an insert never fails for want of one; a month that already has rows there is
-- skipped (with a notice) and keeps using the default partition. Returns how many partitions it created.
CREATE FUNCTION onshi_month_partitions(parent text, first_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', first_month)::date;
    made integer := 0;
    name text;
BEGIN
    FOR i IN 1 .. months LOOP
        name := format('%s_y%sm%s', parent, to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, parent,
                               month_start::timestamp AT TIME ZONE 'UTC',
                               (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                made := made + 1;
            EXCEPTION WHEN check_violation THEN
                RAISE NOTICE '% keeps rows of % in its default partition', parent, to_char(month_start, 'YYYY-MM');
            END;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN made;
END;
$$;

-- The number of a UTC month (year * 12 + month - 1), to count months between two moments.
CREATE FUNCTION onshi_month_number(moment timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(year FROM moment AT TIME ZONE 'UTC') * 12 + extract(month FROM moment AT TIME ZONE 'UTC') - 1)::integer
$$;

-- Creates the partitions `parent` needs for the rows of `source` (column `col`), and three months ahead of now.
CREATE PROCEDURE onshi_partitions_for(parent text, source text, col text) LANGUAGE plpgsql AS $$
DECLARE
    first_month integer;
    last_month integer;
BEGIN
    EXECUTE format('SELECT onshi_month_number(least(min(%I), now())), onshi_month_number(greatest(max(%I), now()))
                    FROM %I', col, col, source) INTO first_month, last_month;
    PERFORM onshi_month_partitions(parent, make_date(first_month / 12, first_month % 12 + 1, 1),
                                   last_month - first_month + 4);
END;
$$;

-- Verifications: no foreign keys on this append-only table (each would lock the referenced facility, terminal,
-- certificate and holder rows on every check); its values come from the authenticated terminal and the card
-- state read just before, by the same code path.
ALTER TABLE consents DROP CONSTRAINT consents_verification_id_fkey;
ALTER TABLE verifications RENAME TO verifications_unpartitioned;
ALTER INDEX verifications_holder RENAME TO verifications_unpartitioned_holder;
CREATE TABLE verifications (
    id                 uuid NOT NULL,
    terminal_id        uuid NOT NULL,
    facility_code      text NOT NULL,
    serial             text NOT NULL,
    holder_id          bigint NOT NULL,
    result             text NOT NULL CHECK (result IN ('eligible', 'not_eligible', 'not_registered',
                       'certificate_revoked', 'certificate_suspended', 'certificate_expired')),
    validity_code      smallint CHECK (validity_code BETWEEN 1 AND 5),
    record_version_id  bigint,
    viewing_allowed    boolean NOT NULL,
    presence_method    text NOT NULL CHECK (presence_method IN ('face', 'pin', 'visual')),
    face_distance      real,
    liveness_passed    boolean,
    as_of              date NOT NULL,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX verifications_holder ON verifications (holder_id, created_at);
CREATE TABLE verifications_default PARTITION OF verifications DEFAULT;
CALL onshi_partitions_for('verifications', 'verifications_unpartitioned', 'created_at');
INSERT INTO verifications (id, terminal_id, facility_code, serial, holder_id, result, validity_code,
    record_version_id, viewing_allowed, presence_method, face_distance, liveness_passed, as_of, created_at)
  SELECT id, terminal_id, facility_code, serial, holder_id, result, validity_code, record_version_id,
    viewing_allowed, presence_method, face_distance, liveness_passed, as_of, created_at
  FROM verifications_unpartitioned;
DROP TABLE verifications_unpartitioned;

-- The holder's access log (every view of their data).
ALTER TABLE access_log RENAME TO access_log_unpartitioned;
ALTER INDEX access_log_holder RENAME TO access_log_unpartitioned_holder;
CREATE SEQUENCE access_log_ids AS bigint;
CREATE TABLE access_log (
    id             bigint NOT NULL DEFAULT nextval('access_log_ids'),
    holder_id      bigint NOT NULL REFERENCES holders (id),
    consent_id     uuid NOT NULL REFERENCES consents (id),
    staff_id       uuid NOT NULL REFERENCES staff (id),
    facility_code  text NOT NULL REFERENCES facilities (code),
    role           text NOT NULL,
    category       text NOT NULL CHECK (category IN ('medication', 'checkup')),
    at             timestamptz NOT NULL,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE access_log_ids OWNED BY access_log.id;
CREATE INDEX access_log_holder ON access_log (holder_id, at);
CREATE TABLE access_log_default PARTITION OF access_log DEFAULT;
CALL onshi_partitions_for('access_log', 'access_log_unpartitioned', 'at');
INSERT INTO access_log (id, holder_id, consent_id, staff_id, facility_code, role, category, at)
    SELECT id, holder_id, consent_id, staff_id, facility_code, role, category, at FROM access_log_unpartitioned;
DO $$ BEGIN PERFORM setval('access_log_ids', coalesce((SELECT max(id) FROM access_log), 0) + 1, false); END $$;
DROP TABLE access_log_unpartitioned;

-- The audit trail: entries carry their time as a column (the partition key); (shard, seq) stays unique because
-- a shard's head row is locked while its next entry is written, and verify-audit checks the sequence anyway.
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
DROP TRIGGER audit_log_append_only ON audit_log_unpartitioned;
CREATE TABLE audit_log (
    shard       smallint NOT NULL,
    seq         bigint NOT NULL,
    at          timestamptz NOT NULL,
    entry       text NOT NULL,        -- canonical JSON: {"action", "actor", "at", "subject"}
    prev_hash   bytea NOT NULL,
    entry_hash  bytea NOT NULL,
    PRIMARY KEY (shard, seq, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_chain ON audit_log (shard, seq);
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
ALTER TABLE audit_log_unpartitioned ADD COLUMN at timestamptz;
UPDATE audit_log_unpartitioned SET at = (entry::jsonb ->> 'at')::timestamptz;
CALL onshi_partitions_for('audit_log', 'audit_log_unpartitioned', 'at');
INSERT INTO audit_log (shard, seq, at, entry, prev_hash, entry_hash)
    SELECT shard, seq, at, entry, prev_hash, entry_hash FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;
DROP PROCEDURE onshi_partitions_for(text, text, text);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Every shard's head exists from the start (service/audit/service.py SHARDS = 16), and keeps the hash before it.
ALTER TABLE audit_heads ADD COLUMN prev bytea;
UPDATE audit_heads SET prev = (SELECT prev_hash FROM audit_log l WHERE l.shard = audit_heads.shard
                               AND l.seq = audit_heads.seq);
INSERT INTO audit_heads (shard, seq, head, prev)
    SELECT s, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, NULL
    FROM generate_series(0, 15) AS s
    ON CONFLICT (shard) DO NOTHING;

-- What retention dropped: per shard, the last entry of the dropped months, from which verify-audit continues.
CREATE TABLE audit_checkpoints (
    shard       smallint NOT NULL,
    seq         bigint NOT NULL,
    entry_hash  bytea NOT NULL,
    month       date NOT NULL,
    made_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shard, seq)
);
