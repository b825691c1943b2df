-- Facilities, their terminals and staff, insurers, operators and claims processors, and their credentials.
-- The certificate authority: card holders' identity attributes and their certificates (keyed by serial).

CREATE TABLE facilities (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{10}$'),          -- 医療機関コード
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type        text NOT NULL CHECK (type IN ('clinic', 'hospital', 'dental', 'pharmacy')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE terminals (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    facility_code  text NOT NULL REFERENCES facilities (code),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    facility_code  text NOT NULL REFERENCES facilities (code),
    role           text NOT NULL CHECK (role IN ('reception', 'doctor', 'dentist', 'pharmacist')),
    login          text NOT NULL UNIQUE CHECK (length(login) BETWEEN 1 AND 100),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE insurers (
    number      text PRIMARY KEY CHECK (number ~ '^([0-9]{6}|[0-9]{8})$'),  -- 保険者番号, check digit verified by the service
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE claims_processors (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operators (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash           bytea NOT NULL UNIQUE,                      -- SHA-256 of the token; the token itself is never stored
    kind                 text NOT NULL CHECK (kind IN ('terminal', 'insurer', 'operator', 'claims')),
    terminal_id          uuid REFERENCES terminals (id),
    insurer_number       text REFERENCES insurers (number),
    claims_processor_id  uuid REFERENCES claims_processors (id),
    operator_id          uuid REFERENCES operators (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz,
    CHECK ((kind = 'terminal') = (terminal_id IS NOT NULL)),
    CHECK ((kind = 'insurer') = (insurer_number IS NOT NULL)),
    CHECK ((kind = 'claims') = (claims_processor_id IS NOT NULL)),
    CHECK ((kind = 'operator') = (operator_id IS NOT NULL))
);

-- The authority's record of each card holder (J-LIS keeps these; the certificate itself carries none of them).
CREATE TABLE holders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name_kanji    text NOT NULL,
    name_kana     text NOT NULL,
    birthdate     date NOT NULL,
    sex           smallint NOT NULL CHECK (sex IN (1, 2)),
    address       text NOT NULL,
    norm_kanji    text NOT NULL,      -- normalised forms used by five-field matching
    norm_kana     text NOT NULL,
    norm_address  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX holders_match_kana ON holders (birthdate, norm_kana);
CREATE INDEX holders_match_kanji ON holders (birthdate, norm_kanji);

CREATE TABLE certificates (
    serial             text PRIMARY KEY CHECK (serial ~ '^[1-9][0-9]{0,59}$'),  -- decimal, may exceed 64 bits
    holder_id          bigint NOT NULL REFERENCES holders (id),
    issuer             text NOT NULL,
    not_before         timestamptz NOT NULL,
    not_after          timestamptz NOT NULL,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    status_reason      text,
    status_changed_at  timestamptz,
    replaced_by        text REFERENCES certificates (serial),              -- renewal: old -> new
    der                bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_holder ON certificates (holder_id);

CREATE TABLE certificate_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial   text NOT NULL REFERENCES certificates (serial),
    action   text NOT NULL CHECK (action IN ('issue', 'suspend', 'release', 'revoke', 'renew')),
    reason   text,
    actor    text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_events_serial ON certificate_events (serial, id);
