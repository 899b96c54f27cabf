-- The authorization server's state. Secrets (codes, refresh tokens, CSRF tokens,
-- session ids) are stored only as SHA-256 hashes.

-- Token-signing keys: the newest unretired key signs; retired keys stay published
-- in the JWKS until every token they signed has expired.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL,
    private_key_der TEXT NOT NULL,          -- PKCS#8, base64
    public_key      TEXT NOT NULL,          -- SEC1 point, base64
    created_at      TIMESTAMP NOT NULL,
    retired_at      TIMESTAMP
);

-- Berlin Group consents: AIS (/v1/consents) and confirmation of funds
-- (/v2/consents/confirmation-of-funds).
CREATE TABLE consents (
    consent_id         TEXT PRIMARY KEY NOT NULL,
    client_id          TEXT NOT NULL REFERENCES tpp_clients (client_id),
    kind               TEXT NOT NULL CHECK (kind IN ('ais', 'piis')),
    status             TEXT NOT NULL,
    access             TEXT NOT NULL,       -- JSON, as requested
    granted_access     TEXT,                -- JSON, account ids per access kind once authorized
    recurring          BOOLEAN NOT NULL,
    valid_until        DATE NOT NULL,
    frequency_per_day  INTEGER NOT NULL,
    psu_id             TEXT,
    psu_ip_address     TEXT,
    created_at         TIMESTAMP NOT NULL,
    status_changed_at  TIMESTAMP NOT NULL,
    authorized_at      TIMESTAMP
);
CREATE INDEX consents_by_client ON consents (client_id, created_at);

-- Idempotency-Key records, scoped per client, kept 24 h; inserted in the same
-- transaction as the resource they created.
CREATE TABLE idempotency_keys (
    client_id     TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    request_hash  TEXT NOT NULL,            -- SHA-256 of the canonical parsed JSON body
    resource_id   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);

-- Pushed authorization requests (RFC 9126).
CREATE TABLE par_requests (
    request_uri_hash TEXT PRIMARY KEY NOT NULL,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,         -- JSON object of the pushed parameters
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    used_at          TIMESTAMP
);

-- A PSU's pass through the consent page, from /oauth/authorize to the redirect.
CREATE TABLE authz_sessions (
    session_hash   TEXT PRIMARY KEY NOT NULL,
    csrf_hash      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    state          TEXT,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    psu_id         TEXT,
    sca_required   BOOLEAN NOT NULL,
    challenge_id   TEXT,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP
);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    psu_id         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    used_at        TIMESTAMP
);

-- Issued access tokens, so revocation takes effect at once.
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    code_hash  TEXT,                         -- the authorization code it came from
    family_id  TEXT,                         -- the refresh-token family it belongs to
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX access_tokens_by_code ON access_tokens (code_hash);
CREATE INDEX access_tokens_by_family ON access_tokens (family_id);

-- Refresh tokens: opaque, hashed, rotated on use; a family shares one lineage.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    psu_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    code_hash   TEXT,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,          -- the family's end
    rotated_at  TIMESTAMP,
    revoked_at  TIMESTAMP
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- When a PSU last passed SCA for a TPP (RTS Art. 10a: again after 180 days).
CREATE TABLE psu_sca_records (
    psu_id      TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    last_sca_at TIMESTAMP NOT NULL,
    PRIMARY KEY (psu_id, client_id)
);

-- Failed PSU logins (RTS Art. 4(3)(b)), shared by every replica.
CREATE TABLE login_failures (
    username      TEXT PRIMARY KEY NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until TIMESTAMP,
    last_failure  TIMESTAMP NOT NULL
);
