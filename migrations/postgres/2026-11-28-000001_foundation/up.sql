-- TPP clients registered by bank IT. A client is bound to exactly one certificate
-- (RFC 8705 tls_client_auth): its SHA-256 thumbprint, base64url as in x5t#S256.
CREATE TABLE tpp_clients (
    client_id       TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    cert_thumbprint TEXT NOT NULL UNIQUE,
    cert_subject    TEXT NOT NULL,
    redirect_uris   TEXT NOT NULL,          -- JSON array of exact URIs
    scopes          TEXT NOT NULL,          -- space separated
    status          TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- The sandbox core banking system: a double-entry ledger.
CREATE TABLE core_psus (
    psu_id        TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    display_name  TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE core_accounts (
    account_id        TEXT PRIMARY KEY NOT NULL,  -- opaque resource id, never the IBAN
    psu_id            TEXT REFERENCES core_psus (psu_id),
    iban              TEXT NOT NULL UNIQUE,       -- electronic format
    currency          TEXT NOT NULL,
    name              TEXT NOT NULL,
    product           TEXT NOT NULL,
    cash_account_type TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('customer', 'clearing')),
    status            TEXT NOT NULL CHECK (status IN ('enabled', 'blocked', 'deleted')),
    balance_minor     BIGINT NOT NULL,            -- booked balance, kept equal to the sum of booked entries
    created_at        TIMESTAMP NOT NULL
);

CREATE TABLE core_transactions (
    transaction_id TEXT PRIMARY KEY NOT NULL,
    booking_status TEXT NOT NULL CHECK (booking_status IN ('booked', 'pending')),
    booking_date   DATE NOT NULL,
    value_date     DATE NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    currency       TEXT NOT NULL,
    remittance     TEXT NOT NULL,
    end_to_end_id  TEXT
);

-- Every transaction has two or more entries whose amounts sum to zero.
CREATE TABLE core_entries (
    entry_id          TEXT PRIMARY KEY NOT NULL,
    transaction_id    TEXT NOT NULL REFERENCES core_transactions (transaction_id),
    account_id        TEXT NOT NULL REFERENCES core_accounts (account_id),
    amount_minor      BIGINT NOT NULL,            -- positive = credit to the account
    counterparty_name TEXT NOT NULL,
    counterparty_iban TEXT
);
CREATE INDEX core_entries_by_account ON core_entries (account_id, transaction_id);
CREATE INDEX core_transactions_by_date ON core_transactions (booking_date, created_at);

-- Payment orders the gateway submitted, keyed by the gateway's payment id: the
-- core's idempotency record. A second submission returns this row's outcome.
CREATE TABLE core_payments (
    payment_id     TEXT PRIMARY KEY NOT NULL,
    debtor_iban    TEXT NOT NULL,
    creditor_iban  TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('executed', 'pending', 'rejected')),
    reject_reason  TEXT,
    transaction_id TEXT REFERENCES core_transactions (transaction_id),
    created_at     TIMESTAMP NOT NULL
);

-- One-time-code challenges, each bound to the exact context it was issued for
-- (PSD2 RTS Art. 5 dynamic linking).
CREATE TABLE core_sca_challenges (
    challenge_id TEXT PRIMARY KEY NOT NULL,
    psu_id       TEXT NOT NULL REFERENCES core_psus (psu_id),
    context_hash TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    consumed_at  TIMESTAMP
);
