//! The portable diesel schema, shared by SQLite and PostgreSQL.
//!
//! Only types that `#[derive(MultiConnection)]` supports appear here: text for
//! identifiers and decimals, `BigInt` minor units for money, `Timestamp` (UTC) for
//! instants.

diesel::table! {
    tpp_clients (client_id) {
        client_id -> Text,
        name -> Text,
        cert_thumbprint -> Text,
        cert_subject -> Text,
        redirect_uris -> Text,
        scopes -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    core_psus (psu_id) {
        psu_id -> Text,
        username -> Text,
        password_hash -> Text,
        display_name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    core_accounts (account_id) {
        account_id -> Text,
        psu_id -> Nullable<Text>,
        iban -> Text,
        currency -> Text,
        name -> Text,
        product -> Text,
        cash_account_type -> Text,
        kind -> Text,
        status -> Text,
        balance_minor -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    core_transactions (transaction_id) {
        transaction_id -> Text,
        booking_status -> Text,
        booking_date -> Date,
        value_date -> Date,
        created_at -> Timestamp,
        currency -> Text,
        remittance -> Text,
        end_to_end_id -> Nullable<Text>,
    }
}

diesel::table! {
    core_entries (entry_id) {
        entry_id -> Text,
        transaction_id -> Text,
        account_id -> Text,
        amount_minor -> BigInt,
        counterparty_name -> Text,
        counterparty_iban -> Nullable<Text>,
    }
}

diesel::table! {
    core_payments (payment_id) {
        payment_id -> Text,
        debtor_iban -> Text,
        creditor_iban -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        reject_reason -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    core_credits (peer_id, payment_id) {
        peer_id -> Text,
        payment_id -> Text,
        debtor_iban -> Text,
        creditor_iban -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        refusal_reason -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    core_reversals (payment_id) {
        payment_id -> Text,
        transaction_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    core_sca_challenges (challenge_id) {
        challenge_id -> Text,
        psu_id -> Text,
        context_hash -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key_der -> Text,
        public_key -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    consents (consent_id) {
        consent_id -> Text,
        client_id -> Text,
        kind -> Text,
        status -> Text,
        access -> Text,
        granted_access -> Nullable<Text>,
        recurring -> Bool,
        valid_until -> Date,
        frequency_per_day -> Integer,
        psu_id -> Nullable<Text>,
        psu_ip_address -> Nullable<Text>,
        created_at -> Timestamp,
        status_changed_at -> Timestamp,
        authorized_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (client_id, idem_key) {
        client_id -> Text,
        idem_key -> Text,
        resource_kind -> Text,
        request_hash -> Text,
        resource_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    par_requests (request_uri_hash) {
        request_uri_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    authz_sessions (session_hash) {
        session_hash -> Text,
        csrf_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        state -> Nullable<Text>,
        code_challenge -> Text,
        scope -> Text,
        psu_id -> Nullable<Text>,
        sca_required -> Bool,
        challenge_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Text,
        scope -> Text,
        psu_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    access_tokens (jti) {
        jti -> Text,
        client_id -> Text,
        subject -> Text,
        scope -> Text,
        code_hash -> Nullable<Text>,
        family_id -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        client_id -> Text,
        psu_id -> Text,
        scope -> Text,
        code_hash -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    psu_sca_records (psu_id, client_id) {
        psu_id -> Text,
        client_id -> Text,
        last_sca_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (username) {
        username -> Text,
        failures -> Integer,
        blocked_until -> Nullable<Timestamp>,
        last_failure -> Timestamp,
    }
}

diesel::joinable!(core_accounts -> core_psus (psu_id));
diesel::joinable!(core_entries -> core_accounts (account_id));
diesel::joinable!(core_entries -> core_transactions (transaction_id));
diesel::joinable!(core_sca_challenges -> core_psus (psu_id));
diesel::joinable!(consents -> tpp_clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    tpp_clients,
    core_psus,
    core_accounts,
    core_transactions,
    core_entries,
    core_payments,
    core_credits,
    core_reversals,
    core_sca_challenges,
    signing_keys,
    consents,
    idempotency_keys,
    par_requests,
    authz_sessions,
    authorization_codes,
    access_tokens,
    refresh_tokens,
    psu_sca_records,
    login_failures,
    ais_access_counts,
    ais_listings,
);

diesel::table! {
    ais_access_counts (consent_id, endpoint, account_id, day) {
        consent_id -> Text,
        endpoint -> Text,
        account_id -> Text,
        day -> Date,
        calls -> Integer,
    }
}

diesel::table! {
    ais_listings (consent_id, account_id, day, listing) {
        consent_id -> Text,
        account_id -> Text,
        day -> Date,
        listing -> Text,
    }
}

diesel::table! {
    payments (payment_id) {
        payment_id -> Text,
        client_id -> Text,
        product -> Text,
        status -> Text,
        debtor_iban -> Text,
        creditor_iban -> Text,
        creditor_name -> Text,
        amount -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        remittance -> Nullable<Text>,
        end_to_end_id -> Nullable<Text>,
        psu_id -> Text,
        psu_ip_address -> Nullable<Text>,
        sca_exemption -> Nullable<Text>,
        reject_reason -> Nullable<Text>,
        core_transaction_id -> Nullable<Text>,
        created_at -> Timestamp,
        status_changed_at -> Timestamp,
        authorized_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payment_outbox (payment_id) {
        payment_id -> Text,
        state -> Text,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    risk_decisions (decision_id) {
        decision_id -> Text,
        payment_id -> Text,
        stage -> Text,
        outcome -> Text,
        score -> Text,
        explanation -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    psu_exemption_counters (psu_id) {
        psu_id -> Text,
        low_value_count -> Integer,
        low_value_total_minor -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    trusted_payees (psu_id, creditor_iban) {
        psu_id -> Text,
        creditor_iban -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(payment_outbox -> payments (payment_id));
diesel::allow_tables_to_appear_in_same_query!(payments, payment_outbox, risk_decisions);

diesel::table! {
    interbank_credits (peer_client_id, payment_id) {
        peer_client_id -> Text,
        payment_id -> Text,
        fingerprint -> Text,
        status -> Text,
        credit_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}
