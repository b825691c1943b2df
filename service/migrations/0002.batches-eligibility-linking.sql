-- depends: 0001.accounts-authority
-- Insurer batches (raw upload kept only until processed), versioned eligibility records, registrations,
-- links between holders and records, and the evidence of every matching decision.

CREATE TABLE batches (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN ('eligibility', 'checkup', 'medication')),
    owner            text NOT NULL,                  -- 'insurer:<number>' or 'claims:<id>'
    insurer_number   text REFERENCES insurers (number),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    body_sha256      bytea,
    media_type       text NOT NULL,
    charset          text NOT NULL,
    body_bytes       bigint NOT NULL DEFAULT 0,
    chunks           integer NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'receiving'
                     CHECK (status IN ('receiving', 'queued', 'running', 'done', 'failed')),
    rows_total       integer,
    rows_processed   integer NOT NULL DEFAULT 0,
    rows_accepted    integer NOT NULL DEFAULT 0,
    rows_rejected    integer NOT NULL DEFAULT 0,
    linked           integer NOT NULL DEFAULT 0,
    needs_review     integer NOT NULL DEFAULT 0,
    ambiguous        integer NOT NULL DEFAULT 0,
    failure          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    heartbeat_at     timestamptz,
    UNIQUE (owner, kind, idempotency_key)
);
CREATE INDEX batches_pending ON batches (created_at) WHERE status IN ('queued', 'running');

-- The uploaded body in 1 MiB pieces, streamed in and out; deleted once the batch is processed.
CREATE TABLE batch_chunks (
    batch_id  uuid NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (batch_id, seq)
);

CREATE TABLE batch_errors (
    batch_id  uuid NOT NULL REFERENCES batches (id),
    row       integer NOT NULL,        -- 1-based data row; 0 for the header
    field     text,
    error     text NOT NULL,
    detail    text NOT NULL
);
CREATE INDEX batch_errors_batch ON batch_errors (batch_id, row);

-- Every version of every record is kept: an upload or a terminate adds a version, never overwrites one.
CREATE TABLE eligibility_records (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insurer_number   text NOT NULL REFERENCES insurers (number),
    record_id        text NOT NULL,
    version          integer NOT NULL,
    batch_id         uuid REFERENCES batches (id),
    batch_row        integer,
    action           text NOT NULL CHECK (action IN ('upsert', 'terminate')),
    symbol           text NOT NULL,         -- 記号
    number           text NOT NULL,         -- 番号
    branch           text NOT NULL,         -- 枝番
    holder_kind      smallint NOT NULL CHECK (holder_kind IN (1, 2)),
    name_kanji       text NOT NULL,
    name_kana        text NOT NULL,
    birthdate        date NOT NULL,
    sex              smallint NOT NULL CHECK (sex IN (1, 2)),
    address          text NOT NULL,
    postal_code      text,
    qualified_on     date NOT NULL,         -- 資格取得日
    disqualified_on  date,                  -- 資格喪失日: the first day NOT covered
    copay_ratio      smallint NOT NULL CHECK (copay_ratio IN (10, 20, 30)),
    limit_category   text,
    norm_kanji       text NOT NULL,
    norm_kana        text NOT NULL,
    norm_address     text NOT NULL,
    is_current       boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    superseded_at    timestamptz,
    UNIQUE (insurer_number, record_id, version),
    CHECK (disqualified_on IS NULL OR disqualified_on > qualified_on)
);
CREATE UNIQUE INDEX eligibility_current ON eligibility_records (insurer_number, record_id) WHERE is_current;
CREATE INDEX eligibility_match_kana ON eligibility_records (birthdate, norm_kana) WHERE is_current;
CREATE INDEX eligibility_match_kanji ON eligibility_records (birthdate, norm_kanji) WHERE is_current;
CREATE INDEX eligibility_insured ON eligibility_records (insurer_number, symbol, number, branch) WHERE is_current;

-- 利用登録: the holder's own request to use the card as the insurance card.
CREATE TABLE registrations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_id        bigint NOT NULL REFERENCES holders (id),
    serial           text NOT NULL REFERENCES certificates (serial),
    registered_at    timestamptz NOT NULL DEFAULT now(),
    unregistered_at  timestamptz
);
CREATE UNIQUE INDEX registrations_active ON registrations (holder_id) WHERE unregistered_at IS NULL;

-- Evidence of every matching decision: which fields, the normalised values compared, who, when.
CREATE TABLE link_decisions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_id          bigint REFERENCES holders (id),
    insurer_number     text NOT NULL,
    record_id          text NOT NULL,
    record_version_id  bigint REFERENCES eligibility_records (id),
    direction          text NOT NULL CHECK (direction IN ('registration', 'upload', 'unlink')),
    outcome            text NOT NULL
                       CHECK (outcome IN ('linked', 'kept', 'needs_review', 'ambiguous', 'unlinked')),
    evidence           jsonb NOT NULL,
    actor              text NOT NULL,
    decided_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_decisions_record ON link_decisions (insurer_number, record_id, id);
CREATE INDEX link_decisions_holder ON link_decisions (holder_id, id);

CREATE TABLE links (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_id          bigint NOT NULL REFERENCES holders (id),
    insurer_number     text NOT NULL,
    record_id          text NOT NULL,
    record_version_id  bigint NOT NULL REFERENCES eligibility_records (id),
    decision_id        bigint NOT NULL REFERENCES link_decisions (id),
    linked_at          timestamptz NOT NULL DEFAULT now(),
    unlinked_at        timestamptz,
    unlink_reason      text
);
-- A record is linked to at most one holder at a time.
CREATE UNIQUE INDEX links_active_record ON links (insurer_number, record_id) WHERE unlinked_at IS NULL;
CREATE INDEX links_active_holder ON links (holder_id) WHERE unlinked_at IS NULL;

-- The insurer's review queue: records that could not be linked, with the fields that differ and why.
CREATE TABLE link_reviews (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insurer_number     text NOT NULL,
    record_id          text NOT NULL,
    record_version_id  bigint NOT NULL REFERENCES eligibility_records (id),
    holder_id          bigint NOT NULL REFERENCES holders (id),   -- internal: never shown to the insurer
    reason             text NOT NULL CHECK (reason IN ('fields_differ', 'ambiguous')),
    fields             jsonb NOT NULL,
    decision_id        bigint NOT NULL REFERENCES link_decisions (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at        timestamptz,
    resolution         text
);
CREATE UNIQUE INDEX link_reviews_open ON link_reviews (insurer_number, record_id, holder_id) WHERE resolved_at IS NULL;
CREATE INDEX link_reviews_holder_open ON link_reviews (holder_id) WHERE resolved_at IS NULL;
