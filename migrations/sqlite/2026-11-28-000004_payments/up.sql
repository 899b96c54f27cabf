-- Payment initiations (Berlin Group PIS). `status` is the ISO 20022 transaction
-- status the TPP sees; terminal statuses (ACSC, RJCT, CANC) never change.
CREATE TABLE payments (
    payment_id          TEXT PRIMARY KEY NOT NULL,
    client_id           TEXT NOT NULL,
    product             TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('RCVD', 'ACTC', 'ACSP', 'ACSC', 'PDNG', 'RJCT', 'CANC')),
    debtor_iban         TEXT NOT NULL,
    creditor_iban       TEXT NOT NULL,
    creditor_name       TEXT NOT NULL,
    amount              TEXT NOT NULL,            -- decimal string in the currency's minor units
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    remittance          TEXT,
    end_to_end_id       TEXT,
    psu_id              TEXT NOT NULL,            -- the debtor account's owner, from the core
    psu_ip_address      TEXT,
    sca_exemption       TEXT,                     -- the exemption applied at approval, if any
    reject_reason       TEXT,
    core_transaction_id TEXT,
    created_at          TIMESTAMP NOT NULL,
    status_changed_at   TIMESTAMP NOT NULL,
    authorized_at       TIMESTAMP
);
CREATE INDEX payments_by_psu ON payments (psu_id, created_at);

-- Approved payments waiting to be forwarded to the core, written in the same
-- transaction as the payment's move to ACTC. A worker claims a row with a
-- conditional UPDATE (state and lease in the WHERE clause), so exactly one worker
-- of any replica forwards it; an expired lease means the worker died or the core
-- did not answer, and the next claim reconciles with the core before anything else.
CREATE TABLE payment_outbox (
    payment_id      TEXT PRIMARY KEY NOT NULL REFERENCES payments (payment_id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'cancelled')),
    attempts        INTEGER NOT NULL,
    claimed_by      TEXT,
    lease_until     TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX payment_outbox_by_state ON payment_outbox (state, lease_until);

-- Every risk decision, with its score, features and reasons, for bank IT.
CREATE TABLE risk_decisions (
    decision_id  TEXT PRIMARY KEY NOT NULL,
    payment_id   TEXT NOT NULL REFERENCES payments (payment_id),
    stage        TEXT NOT NULL CHECK (stage IN ('initiation', 'approval')),
    outcome      TEXT NOT NULL CHECK (outcome IN ('exempt', 'sca', 'reject')),
    score        TEXT NOT NULL,
    explanation  TEXT NOT NULL,                   -- JSON
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX risk_decisions_by_payment ON risk_decisions (payment_id, created_at);

-- PSD2 RTS Art. 16: low-value payments exempted since the PSU's last SCA. Reset
-- when the PSU passes SCA for a payment; incremented by a conditional UPDATE.
CREATE TABLE psu_exemption_counters (
    psu_id                 TEXT PRIMARY KEY NOT NULL,
    low_value_count        INTEGER NOT NULL,
    low_value_total_minor  BIGINT NOT NULL,       -- EUR cents
    updated_at             TIMESTAMP NOT NULL
);

-- PSD2 RTS Art. 13: payees a PSU trusts, added only on a page where SCA passed.
CREATE TABLE trusted_payees (
    psu_id         TEXT NOT NULL,
    creditor_iban  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (psu_id, creditor_iban)
);
