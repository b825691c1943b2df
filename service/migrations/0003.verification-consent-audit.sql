-- depends: 0002.batches-eligibility-linking
-- Verifications at reception, consents bound to them, the holder's access log, and the hash-chained audit trail.

CREATE TABLE verifications (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    terminal_id        uuid NOT NULL REFERENCES terminals (id),
    facility_code      text NOT NULL REFERENCES facilities (code),
    serial             text NOT NULL REFERENCES certificates (serial),
    holder_id          bigint NOT NULL REFERENCES holders (id),
    result             text NOT NULL CHECK (result IN ('eligible', 'not_eligible', 'not_registered',
                       'certificate_revoked', 'certificate_suspended', 'certificate_expired')),
    validity_code      smallint CHECK (validity_code BETWEEN 1 AND 5),
    record_version_id  bigint REFERENCES eligibility_records (id),
    viewing_allowed    boolean NOT NULL,
    presence_method    text NOT NULL CHECK (presence_method IN ('face', 'pin', 'visual')),
    face_distance      real,
    liveness_passed    boolean,
    as_of              date NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX verifications_holder ON verifications (holder_id, created_at);

-- A consent belongs to one verification (so to one patient, terminal and facility), is given once, lasts 24 hours.
CREATE TABLE consents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    verification_id  uuid NOT NULL UNIQUE REFERENCES verifications (id),
    holder_id        bigint NOT NULL REFERENCES holders (id),
    facility_code    text NOT NULL REFERENCES facilities (code),
    terminal_id      uuid NOT NULL REFERENCES terminals (id),
    categories       text[] NOT NULL CHECK (categories <@ ARRAY['medication', 'checkup']::text[]),
    given_at         timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    withdrawn_at     timestamptz
);
CREATE INDEX consents_facility_live ON consents (facility_code, expires_at) WHERE withdrawn_at IS NULL;

-- Every view of a holder's data: who, role, facility, what, when (read by the holder with their card).
CREATE TABLE access_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_id      bigint NOT NULL REFERENCES holders (id),
    consent_id     uuid NOT NULL REFERENCES consents (id),
    staff_id       uuid NOT NULL REFERENCES staff (id),
    facility_code  text NOT NULL REFERENCES facilities (code),
    role           text NOT NULL,
    category       text NOT NULL CHECK (category IN ('medication', 'checkup')),
    at             timestamptz NOT NULL
);
CREATE INDEX access_log_holder ON access_log (holder_id, at);

-- The audit trail: one hash chain per shard, so that requests never queue behind one row.
-- entry_hash = sha256(prev_hash || utf8(entry)); the head of each shard is kept in audit_heads.
CREATE TABLE audit_heads (
    shard  smallint PRIMARY KEY,
    seq    bigint NOT NULL,
    head   bytea NOT NULL
);

CREATE TABLE audit_log (
    shard       smallint NOT NULL,
    seq         bigint NOT NULL,
    entry       text NOT NULL,        -- canonical JSON: {"action", "actor", "at", "subject"}
    prev_hash   bytea NOT NULL,
    entry_hash  bytea NOT NULL,
    PRIMARY KEY (shard, seq)
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
