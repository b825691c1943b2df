-- depends: 0002.batches-eligibility-linking
-- Dispensed medication (薬剤情報, from claims processors) and checkup results (特定健診, from insurers), read by the
-- consent-gated viewer. Versioned like eligibility_records: a changed re-upload adds a version, an identical one
-- adds nothing, no version is ever overwritten or deleted.
--
-- A record's identity is its uploader plus the uploader's record_id (as eligibility_records: insurer + record_id).
-- The insured person (insurer_number, symbol, number, branch) is versioned data, so an uploader that attributed a
-- record to the wrong person corrects it by re-uploading the record: the wrong person's version stops being current.

CREATE TABLE medication_records (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claims_processor_id  uuid NOT NULL REFERENCES claims_processors (id),   -- the uploader (審査支払機関)
    record_id            text NOT NULL,
    version              integer NOT NULL,
    batch_id             uuid REFERENCES batches (id),
    batch_row            integer,
    insurer_number       text NOT NULL,     -- 保険者番号 of the insured (the insurer need not be registered here)
    symbol               text NOT NULL,     -- 記号
    number               text NOT NULL,     -- 番号
    branch               text NOT NULL,     -- 枝番
    dispensed_on         date NOT NULL,
    drug_code            text NOT NULL CHECK (drug_code ~ '^[0-9]{7}[A-Z][0-9A-Z]{4}$'),   -- YJ code
    drug_name            text NOT NULL,
    quantity             numeric NOT NULL CHECK (quantity > 0),
    unit                 text NOT NULL,
    days                 integer CHECK (days > 0),
    facility_code        text NOT NULL CHECK (facility_code ~ '^[0-9]{10}$'),  -- dispensing facility, not a FK
    is_current           boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    superseded_at        timestamptz,
    UNIQUE (claims_processor_id, record_id, version)
);
CREATE UNIQUE INDEX medication_current ON medication_records (claims_processor_id, record_id) WHERE is_current;
CREATE INDEX medication_insured ON medication_records (insurer_number, symbol, number, branch, dispensed_on)
    WHERE is_current;

CREATE TABLE checkup_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insurer_number  text NOT NULL REFERENCES insurers (number),   -- the uploader and the insured's insurer
    record_id       text NOT NULL,
    version         integer NOT NULL,
    batch_id        uuid REFERENCES batches (id),
    batch_row       integer,
    symbol          text NOT NULL,
    number          text NOT NULL,
    branch          text NOT NULL,
    examined_on     date NOT NULL,
    height_cm       numeric,            -- NULL: not measured
    weight_kg       numeric,
    bmi             numeric,
    waist_cm        numeric,
    systolic_bp     numeric,
    diastolic_bp    numeric,
    hba1c           numeric,
    ldl             numeric,
    hdl             numeric,
    triglycerides   numeric,
    ast             numeric,
    alt             numeric,
    gamma_gtp       numeric,
    is_current      boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    superseded_at   timestamptz,
    UNIQUE (insurer_number, record_id, version)
);
CREATE UNIQUE INDEX checkup_current ON checkup_results (insurer_number, record_id) WHERE is_current;
CREATE INDEX checkup_insured ON checkup_results (insurer_number, symbol, number, branch, examined_on)
    WHERE is_current;
