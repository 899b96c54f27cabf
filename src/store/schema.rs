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

diesel::joinable!(core_accounts -> core_psus (psu_id));
diesel::joinable!(core_entries -> core_accounts (account_id));
diesel::joinable!(core_entries -> core_transactions (transaction_id));
diesel::joinable!(core_sca_challenges -> core_psus (psu_id));

diesel::allow_tables_to_appear_in_same_query!(
    tpp_clients,
    core_psus,
    core_accounts,
    core_transactions,
    core_entries,
    core_payments,
    core_sca_challenges,
);
