-- Between banks. Sandbox core: credits other banks sent (the core's idempotency
-- record per sending peer and its payment id, committed with the booking) and
-- reversals of payments a peer refused (at most one per payment).
CREATE TABLE core_credits (
    peer_id          TEXT NOT NULL,              -- the sending bank's client id
    payment_id       TEXT NOT NULL,              -- the sending bank's payment id
    debtor_iban      TEXT NOT NULL,
    creditor_iban    TEXT NOT NULL,
    amount_minor     BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('credited', 'refused')),
    refusal_reason   TEXT,
    transaction_id   TEXT REFERENCES core_transactions (transaction_id),
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (peer_id, payment_id)
);

CREATE TABLE core_reversals (
    payment_id      TEXT PRIMARY KEY NOT NULL REFERENCES core_payments (payment_id),
    transaction_id  TEXT NOT NULL REFERENCES core_transactions (transaction_id),
    created_at      TIMESTAMP NOT NULL
);

-- Gateway: what each peer bank sent to /interbank/v1/credits and what it was
-- answered, so a replay gets the first answer and a different credit under the
-- same payment id is refused (409). The money itself is deduplicated by the core.
CREATE TABLE interbank_credits (
    peer_client_id  TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,               -- SHA-256 of the parsed request
    status          TEXT NOT NULL CHECK (status IN ('ACSC', 'RJCT')),
    credit_id       TEXT,
    reason          TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (peer_client_id, payment_id)
);
