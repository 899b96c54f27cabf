//! Payment risk engine for PSD2 payment initiation: facts → features → score →
//! decision.
//!
//! The gateway gathers [`RiskFacts`] about a payment and [`ExemptionState`] about
//! the PSU from its database; this module is pure (no clock, no randomness, no IO)
//! and turns them into a [`Decision`]: reject, require SCA, or exempt from SCA under
//! one of the exemptions of the RTS on strong customer authentication (Commission
//! Delegated Regulation (EU) 2018/389, "RTS" below). The same input always gives
//! the identical output, so a decision can be replayed from the stored facts.
//!
//! # Model
//! 1. **Features** ([`features`]): each fact becomes a number roughly in `[0, 3]`
//!    where larger means riskier (see [`RiskFeatures`]): how unusual the amount is
//!    for this PSU, how large it is, new payee, velocity, cross-border, instant,
//!    night, new TPP, and how much of the balance it drains. Money stays
//!    [`Decimal`]; only ratios are converted to `f64`.
//! 2. **Score** ([`score`]): a logistic model,
//!    `score = 1 / (1 + e^-(w·x + b))` with the weights `w` and bias `b` of
//!    [`RiskConfig`]. Each feature's contribution `w_i·x_i` is kept, so the
//!    largest positive ones explain the score ([`Scored::top_reasons`]).
//! 3. **Decision** ([`decide`]): the rules below, first match wins.
//!
//! # Rules
//! | # | Condition | Outcome | Legal basis |
//! |---|-----------|---------|-------------|
//! | 1 | `score ≥ reject_threshold` | [`Outcome::Reject`] | the bank's fraud policy, fed by RTS Art. 2 transaction monitoring |
//! | 2 | `score ≥ sca_threshold` | [`Outcome::Sca`] | RTS Art. 2: exemptions only when monitoring finds no elevated risk |
//! | 3 | payee on the PSU's trusted-beneficiary list | [`Exemption::TrustedBeneficiary`] | RTS Art. 13 |
//! | 4 | EUR, `score < tra_max_score`, `amount ≤ ETV` for the bank's fraud rate | [`Exemption::TransactionRiskAnalysis`] | RTS Art. 18 and Annex |
//! | 5 | EUR, `amount ≤ 30`, `total since SCA + amount ≤ 100`, `< 5` such payments since SCA | [`Exemption::LowValue`] | RTS Art. 16 |
//! | 6 | otherwise | [`Outcome::Sca`] | PSD2 Art. 97(1)(b) |
//!
//! Each exemption can be switched off in [`RiskConfig`]. Rules 1 and 2 come first,
//! so no exemption ever applies to a payment whose score is elevated, including
//! payments to trusted payees. A score that is not a number (only possible with a
//! non-finite configuration, which [`RiskConfig::validate`] refuses) fails closed
//! to [`Outcome::Sca`].
//!
//! The amount-based exemptions (rules 4 and 5) apply only to EUR payments, because
//! the RTS thresholds are in EUR and this module does no currency conversion, and
//! only to positive amounts. The exemption threshold value (ETV) of rule 4 comes
//! from the RTS Annex for remote electronic credit transfers via
//! [`tra_threshold_eur`]: fraud rate ≤ 0.005 % → EUR 500, ≤ 0.01 % → EUR 250,
//! ≤ 0.015 % → EUR 100, above → no TRA exemption. RTS Art. 16 lets a bank count
//! either the EUR 100 total or the five payments; this module applies both.
//!
//! # What the caller must do
//! - **Art. 16 counters.** [`ExemptionState::low_value_count_since_sca`] and
//!   [`ExemptionState::low_value_total_since_sca`] count only payments let through
//!   under [`Exemption::LowValue`]: add one and the amount when acting on such a
//!   decision (not at settlement, and in the same transaction that read them, so
//!   concurrent payments cannot both slip under the limits). Payments exempted
//!   under another exemption, or authorised with SCA, are not counted. **Reset both
//!   to zero whenever the PSU passes SCA.**
//! - **Art. 13 list.** [`ExemptionState::payee_trusted`] may only be true for a
//!   payee the PSU added to its trusted-beneficiary list on a page where SCA was
//!   passed (RTS Art. 13(2)).
//! - **Art. 18 fraud rate.** [`RiskConfig::fraud_rate_percent`] must be the bank's
//!   monitored fraud rate for remote electronic credit transfers (RTS Art. 19); if
//!   it rises above the Annex reference rate, set it so (or disable
//!   `tra_exemption`), which stops the exemption.
//! - **Validate the configuration** at load time with [`RiskConfig::validate`].
//!
//! # Calibration of the defaults
//! With [`RiskConfig::default`] (bias −4, SCA at 0.30, reject at 0.90, TRA below
//! 0.10, fraud rate 0.01 % → ETV EUR 250), realistic traffic spreads over every
//! outcome (the tests keep it so):
//!
//! | Payment | Score | Outcome |
//! |---------|-------|---------|
//! | EUR 25 to a known payee, usual 30, daytime | ≈ 0.03 | exempt (TRA) |
//! | EUR 80 to a known payee, usual 70 | ≈ 0.03 | exempt (TRA) |
//! | EUR 20 to a new payee, usual 30 | ≈ 0.17 | exempt (low value) |
//! | EUR 1 200 rent to a trusted payee, usual 1 200 | ≈ 0.08 | exempt (trusted beneficiary) |
//! | the same rent to a payee not on the trusted list (above the ETV) | ≈ 0.08 | SCA |
//! | first EUR 25 payment of a new user, through a new TPP, to a new payee | ≈ 0.35 | SCA |
//! | EUR 900 to a new payee, usual 50 | ≈ 0.61 | SCA |
//! | EUR 2 000 to a new payee, usual 100, instant and cross-border, daytime | ≈ 0.86 | SCA |
//! | EUR 4 500 to a new payee, cross-border, instant, 3 a.m., 6 payments in the last hour, new TPP, 90 % of the balance | ≈ 0.998 | reject |
//! | EUR 1 500 of a 1 600 balance, new payee, new TPP, instant, 2 a.m. | ≈ 0.97 | reject |
//!
//! A new payee alone weighs 2.0, so a new payee with a large, unusual amount
//! needs SCA; a rejection takes several further signals (night, velocity, new
//! TPP, draining the balance, instant, cross-border).

mod config;
mod decision;
mod feature;
mod scoring;

use rust_decimal::Decimal;

pub use config::{RiskConfig, RiskConfigError, RiskWeights};
pub use decision::{
    Decision, Exemption, LOW_VALUE_MAX_COUNT, LOW_VALUE_MAX_EUR, LOW_VALUE_MAX_TOTAL_EUR, Outcome,
    REASON_COUNT, decide, explain, stricter, tra_threshold_eur,
};
pub use feature::{FEATURE_NAMES, RiskFeatures, features};
pub use scoring::{Scored, score};

/// What the gateway knows about one payment and its PSU, gathered from its
/// database before scoring.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskFacts {
    /// The payment amount in its currency.
    pub amount: Decimal,
    /// Whether the payment currency is EUR (the RTS exemption thresholds are in
    /// EUR; non-EUR payments get no amount-based exemption).
    pub is_eur: bool,
    /// Median amount of the PSU's executed payments in the last 90 days (None = no
    /// history). A median of zero or less is treated as no history.
    pub usual_amount: Option<Decimal>,
    /// The PSU has paid this creditor IBAN before (an executed payment).
    pub payee_known: bool,
    /// Payments the PSU initiated in the last hour (not counting this one).
    pub payments_last_hour: u32,
    /// Payments the PSU initiated in the last 24 h (not counting this one).
    pub payments_last_day: u32,
    /// Creditor IBAN country differs from the debtor's (or product is
    /// cross-border).
    pub cross_border: bool,
    /// The product is instant-sepa-credit-transfers.
    pub instant: bool,
    /// Hour of day 0..=23 (UTC) at scoring time; larger values are taken modulo 24.
    pub hour_utc: u8,
    /// The PSU has never had a payment executed through this TPP.
    pub new_tpp: bool,
    /// Available balance of the debtor account, if known.
    pub available_balance: Option<Decimal>,
}

/// What the exemptions depend on, per PSU (gathered by the caller).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExemptionState {
    /// Number of payments exempted under Art. 16 (low value) since the PSU's last
    /// SCA. Reset to zero when the PSU passes SCA.
    pub low_value_count_since_sca: u32,
    /// EUR total of the payments exempted under Art. 16 (low value) since the PSU's
    /// last SCA. Reset to zero when the PSU passes SCA.
    pub low_value_total_since_sca: Decimal,
    /// The PSU has put this payee on its trusted-beneficiary list (Art. 13), which
    /// only happens on a page where SCA was passed.
    pub payee_trusted: bool,
}
