-- depends: 0008.admin-action-counts
-- The audit trail against the service's own database role. The service answers requests as `onshi_app`, a
-- login role that owns nothing: it reads and writes the tables it serves, may only append to the audit trail
-- (through onshi_audit_append, which advances a shard's head and writes its entry together), and may neither
-- change nor delete audit entries, heads or checkpoints, verifications or access-log rows, nor truncate, alter
-- or drop anything. Migrations, partition upkeep and the admin command run as the owner (DATABASE_URL).
-- Even the owner meets triggers: no UPDATE/DELETE of entries or checkpoints, no TRUNCATE of the trail, a head
-- only ever moves one entry forward. What a superuser can still do (switch triggers off, rewrite a chain) is
-- caught by verify-audit against the signed anchors the service writes outside the database.

DO $$ BEGIN
    CREATE ROLE onshi_app LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles belong to the server: another database of the same server made it
END $$;
DO $$ BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO onshi_app', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO onshi_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO onshi_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO onshi_app;
-- Partitions are reached through their parent (whose rights count); none are granted directly.
DO $$
DECLARE partition regclass;
BEGIN
    FOR partition IN SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE c.relkind IN ('r', 'p') LOOP
        EXECUTE format('REVOKE ALL ON %s FROM onshi_app', partition);
    END LOOP;
END $$;
-- Append-only tables: rows are added and read, never changed.
REVOKE UPDATE, DELETE, TRUNCATE ON verifications, access_log FROM onshi_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_log, audit_heads, audit_checkpoints FROM onshi_app;
DO $$
DECLARE bookkeeping regclass;
BEGIN  -- the migration tool's own tables are the owner's alone
    FOR bookkeeping IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE '%yoyo%' LOOP
        EXECUTE format('REVOKE ALL ON %s FROM onshi_app', bookkeeping);
    END LOOP;
END $$;

-- The only way to write the trail: lock and advance a shard's head, append the entry hashed onto the previous
-- head; NULL when the shard has no head (a tampered trail: the caller refuses to go on).
CREATE FUNCTION onshi_audit_append(shard smallint, entry text, at timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    moved record;
BEGIN
    UPDATE audit_heads h SET seq = h.seq + 1, prev = h.head, head = sha256(h.head || convert_to(entry, 'UTF8'))
        WHERE h.shard = onshi_audit_append.shard
        RETURNING h.seq, h.prev, h.head INTO moved;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (shard, seq, at, entry, prev_hash, entry_hash)
        VALUES (onshi_audit_append.shard, moved.seq, onshi_audit_append.at, entry, moved.prev, moved.head);
    RETURN moved.seq;
END;
$$;
REVOKE ALL ON FUNCTION onshi_audit_append(smallint, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshi_audit_append(smallint, text, timestamptz) TO onshi_app;
-- Partition upkeep is the owner's (the service opens an owner connection for it, requests never do).
REVOKE ALL ON FUNCTION onshi_month_partitions(text, date, integer) FROM PUBLIC;

-- A head moves exactly one entry forward, from where it was; it is never deleted.
CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit heads are never deleted';
    END IF;
    IF NEW.shard <> OLD.shard OR NEW.seq <> OLD.seq + 1 OR NEW.prev IS DISTINCT FROM OLD.head THEN
        RAISE EXCEPTION 'an audit head only moves one entry forward';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- No TRUNCATE of the trail: statement triggers are not inherited, so each partition gets its own (and
-- onshi_month_partitions adds it to the audit months it creates from now on).
CREATE FUNCTION audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is part of the audit trail: it is never truncated', TG_TABLE_NAME;
END;
$$;
DO $$
DECLARE target regclass;
BEGIN
    FOR target IN SELECT 'audit_log'::regclass UNION ALL SELECT 'audit_heads'::regclass
                  UNION ALL SELECT 'audit_checkpoints'::regclass
                  UNION ALL SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'audit_log'::regclass LOOP
        EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate()', target);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION onshi_month_partitions(parent text, first_month date, months integer) RETURNS integer
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
                IF parent = 'audit_log' THEN
                    EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %I '
                                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate()', name);
                END IF;
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
REVOKE ALL ON FUNCTION onshi_month_partitions(text, date, integer) FROM PUBLIC;
