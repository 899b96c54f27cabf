//! Score → decision: reject, SCA, or one of the RTS exemptions.

use std::fmt;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{ExemptionState, RiskConfig, RiskFacts, features, score};

/// Art. 16(a): the largest amount a low-value payment may have, EUR 30.
pub const LOW_VALUE_MAX_EUR: Decimal = Decimal::from_parts(30, 0, 0, false, 0);
/// Art. 16(b): the largest total of low-value payments since the last SCA,
/// this one included, EUR 100.
pub const LOW_VALUE_MAX_TOTAL_EUR: Decimal = Decimal::from_parts(100, 0, 0, false, 0);
/// Art. 16(c): how many consecutive low-value payments may be exempted since the
/// last SCA, this one included.
pub const LOW_VALUE_MAX_COUNT: u32 = 5;
/// How many reasons a [`Decision`] carries.
pub const REASON_COUNT: usize = 3;

/// RTS Annex, remote electronic credit transfers: (reference fraud rate in
/// percent, exemption threshold value in EUR), strictest band first.
const TRA_BANDS: [(f64, Decimal); 3] = [
    (0.005, Decimal::from_parts(500, 0, 0, false, 0)),
    (0.01, Decimal::from_parts(250, 0, 0, false, 0)),
    (0.015, Decimal::from_parts(100, 0, 0, false, 0)),
];

/// An exemption from strong customer authentication under the RTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exemption {
    /// Art. 16: low-value remote payment.
    LowValue,
    /// Art. 13: payee on the PSU's trusted-beneficiary list.
    TrustedBeneficiary,
    /// Art. 18: transaction risk analysis.
    TransactionRiskAnalysis,
}

impl Exemption {
    /// The stable name: `"lowValue"`, `"trustedBeneficiary"` or
    /// `"transactionRiskAnalysis"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LowValue => "lowValue",
            Self::TrustedBeneficiary => "trustedBeneficiary",
            Self::TransactionRiskAnalysis => "transactionRiskAnalysis",
        }
    }
}

impl fmt::Display for Exemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Execute without SCA under the exemption.
    Exempt(Exemption),
    /// Require strong customer authentication.
    Sca,
    /// Refuse the payment.
    Reject,
}

impl Outcome {
    /// The stable name: `"exempt"`, `"sca"` or `"reject"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exempt(_) => "exempt",
            Self::Sca => "sca",
            Self::Reject => "reject",
        }
    }

    /// The exemption, if the outcome is one.
    #[must_use]
    pub const fn exemption(self) -> Option<Exemption> {
        match self {
            Self::Exempt(exemption) => Some(exemption),
            Self::Sca | Self::Reject => None,
        }
    }

    /// Exempt 0 < Sca 1 < Reject 2.
    const fn severity(self) -> u8 {
        match self {
            Self::Exempt(_) => 0,
            Self::Sca => 1,
            Self::Reject => 2,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stricter of two outcomes: Reject > Sca > Exempt (any). Between two
/// exemptions (or two equal outcomes) `b`, the later one, is kept.
#[must_use]
pub const fn stricter(a: Outcome, b: Outcome) -> Outcome {
    if a.severity() > b.severity() { a } else { b }
}

/// A decision with what it was based on, for storage and explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do.
    pub outcome: Outcome,
    /// The risk score, in `[0, 1]`.
    pub score: f64,
    /// The feature values, by stable name ([`RiskFeatures::named`](super::RiskFeatures::named)).
    pub features: Vec<(&'static str, f64)>,
    /// The names of the (up to [`REASON_COUNT`]) features that raised the score
    /// most, largest first ([`Scored::top_reasons`](super::Scored::top_reasons)).
    pub reasons: Vec<&'static str>,
}

/// The exemption threshold value (ETV) of the transaction-risk-analysis exemption
/// for remote electronic credit transfers, from the RTS Annex: a fraud rate of at
/// most 0.005 % → EUR 500, 0.01 % → EUR 250, 0.015 % → EUR 100; above (or not a
/// valid rate) → `None`, no TRA exemption.
#[must_use]
pub fn tra_threshold_eur(fraud_rate_percent: f64) -> Option<Decimal> {
    if fraud_rate_percent < 0.0 {
        return None;
    }
    // NaN compares false with every band.
    TRA_BANDS
        .iter()
        .find(|(reference_rate, _)| fraud_rate_percent <= *reference_rate)
        .map(|(_, etv)| *etv)
}

/// Decides on a payment (pure): features, score, then the rules of the module
/// docs, first match wins.
#[must_use]
pub fn decide(facts: &RiskFacts, state: &ExemptionState, cfg: &RiskConfig) -> Decision {
    let features = features(facts, cfg);
    let scored = score(&features, cfg);
    Decision {
        outcome: outcome(facts, state, cfg, scored.score),
        score: scored.score,
        features: features.named(),
        reasons: scored.top_reasons(REASON_COUNT),
    }
}

fn outcome(facts: &RiskFacts, state: &ExemptionState, cfg: &RiskConfig, score: f64) -> Outcome {
    // Rule 1 (RTS Art. 2): too risky to execute at all.
    if score >= cfg.reject_threshold {
        return Outcome::Reject;
    }
    // Rule 2: elevated risk, no exemption. Written as "not below" so that a NaN
    // score or threshold fails closed.
    let below_sca = score < cfg.sca_threshold;
    if !below_sca {
        return Outcome::Sca;
    }
    // Rule 3 (Art. 13).
    if cfg.trusted_beneficiary_exemption && state.payee_trusted {
        return Outcome::Exempt(Exemption::TrustedBeneficiary);
    }
    // Rule 4 (Art. 18).
    if cfg.tra_exemption && tra_applies(facts, cfg, score) {
        return Outcome::Exempt(Exemption::TransactionRiskAnalysis);
    }
    // Rule 5 (Art. 16).
    if cfg.low_value_exemption && low_value_applies(facts, state) {
        return Outcome::Exempt(Exemption::LowValue);
    }
    // Rule 6 (PSD2 Art. 97(1)(b)).
    Outcome::Sca
}

fn tra_applies(facts: &RiskFacts, cfg: &RiskConfig, score: f64) -> bool {
    facts.is_eur
        && facts.amount > Decimal::ZERO
        && score < cfg.tra_max_score
        && tra_threshold_eur(cfg.fraud_rate_percent).is_some_and(|etv| facts.amount <= etv)
}

fn low_value_applies(facts: &RiskFacts, state: &ExemptionState) -> bool {
    facts.is_eur
        && facts.amount > Decimal::ZERO
        && facts.amount <= LOW_VALUE_MAX_EUR
        && state.low_value_count_since_sca < LOW_VALUE_MAX_COUNT
        && state
            .low_value_total_since_sca
            .checked_add(facts.amount)
            .is_some_and(|total| total <= LOW_VALUE_MAX_TOTAL_EUR)
}

/// The decision as JSON for bank IT:
/// `{"outcome": "exempt"|"sca"|"reject", "exemption": "lowValue"|…|null,
/// "score": 0.03, "features": {"amountSize": 0.1, …}, "reasons": ["newPayee", …]}`.
/// Feature keys are sorted by name.
#[must_use]
pub fn explain(decision: &Decision) -> Value {
    let features: Map<String, Value> = decision
        .features
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
        .collect();
    json!({
        "outcome": decision.outcome.as_str(),
        "exemption": decision.outcome.exemption().map(Exemption::as_str),
        "score": decision.score,
        "features": features,
        "reasons": decision.reasons,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::RiskWeights;
    use super::*;

    const LOW: Outcome = Outcome::Exempt(Exemption::LowValue);
    const TRUSTED: Outcome = Outcome::Exempt(Exemption::TrustedBeneficiary);
    const TRA: Outcome = Outcome::Exempt(Exemption::TransactionRiskAnalysis);
    const SCA: Outcome = Outcome::Sca;
    const REJECT: Outcome = Outcome::Reject;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A routine EUR payment: known payee, daytime, known TPP.
    fn routine(amount: &str) -> RiskFacts {
        RiskFacts {
            amount: d(amount),
            is_eur: true,
            usual_amount: Some(d("30")),
            payee_known: true,
            payments_last_hour: 1,
            payments_last_day: 3,
            cross_border: false,
            instant: false,
            hour_utc: 14,
            new_tpp: false,
            available_balance: Some(d("2000")),
        }
    }

    fn fresh() -> ExemptionState {
        ExemptionState::default()
    }

    /// A config whose score is `logistic(bias)` whatever the facts, so that the
    /// rules can be tested against the thresholds alone.
    fn flat(bias: f64) -> RiskConfig {
        RiskConfig {
            bias,
            weights: RiskWeights {
                amount_vs_usual: 0.0,
                amount_size: 0.0,
                new_payee: 0.0,
                velocity_hour: 0.0,
                velocity_day: 0.0,
                cross_border: 0.0,
                instant: 0.0,
                night: 0.0,
                new_tpp: 0.0,
                amount_vs_balance: 0.0,
            },
            ..RiskConfig::default()
        }
    }

    /// `flat` with a score well below every threshold.
    fn calm() -> RiskConfig {
        flat(-6.0)
    }

    fn score_of(cfg: &RiskConfig) -> f64 {
        decide(&routine("1"), &fresh(), cfg).score
    }

    #[test]
    fn the_calibration_examples_get_their_outcomes_with_the_default_config() {
        let cfg = RiskConfig::default();
        // (label, facts, state, expected outcome, score range)
        type Case = (&'static str, RiskFacts, ExemptionState, Outcome, (f64, f64));
        let cases: [Case; 4] = [
            (
                "EUR 25 routine payment to a known payee",
                routine("25"),
                fresh(),
                TRA,
                (0.0, 0.05),
            ),
            (
                "EUR 80 routine payment to a known payee with history",
                RiskFacts {
                    usual_amount: Some(d("70")),
                    payments_last_hour: 0,
                    payments_last_day: 2,
                    ..routine("80")
                },
                fresh(),
                TRA,
                (0.0, 0.05),
            ),
            (
                "EUR 900 to a new payee, usual 50",
                RiskFacts {
                    usual_amount: Some(d("50")),
                    payee_known: false,
                    payments_last_hour: 0,
                    payments_last_day: 2,
                    available_balance: Some(d("3000")),
                    ..routine("900")
                },
                fresh(),
                SCA,
                (0.4, 0.8),
            ),
            (
                "EUR 4 500 account takeover pattern",
                RiskFacts {
                    usual_amount: Some(d("100")),
                    payee_known: false,
                    payments_last_hour: 6,
                    payments_last_day: 8,
                    cross_border: true,
                    instant: true,
                    hour_utc: 3,
                    new_tpp: true,
                    available_balance: Some(d("5000")),
                    ..routine("4500")
                },
                fresh(),
                REJECT,
                (0.99, 1.0),
            ),
        ];
        for (label, facts, state, want, (lo, hi)) in cases {
            let decision = decide(&facts, &state, &cfg);
            assert_eq!(decision.outcome, want, "{label}: {decision:?}");
            assert!(
                (lo..=hi).contains(&decision.score),
                "{label}: score {} not in [{lo}, {hi}]",
                decision.score
            );
        }
    }

    #[test]
    fn realistic_traffic_reaches_every_outcome_with_the_default_config() {
        let cfg = RiskConfig::default();
        let trusted = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        let cases: [(&str, RiskFacts, ExemptionState, Outcome); 10] = [
            ("coffee-sized payment", routine("4.50"), fresh(), TRA),
            (
                "EUR 200 to a known payee, usual 150",
                RiskFacts {
                    usual_amount: Some(d("150")),
                    ..routine("200")
                },
                fresh(),
                TRA,
            ),
            (
                "EUR 20 to a new payee",
                RiskFacts {
                    payee_known: false,
                    ..routine("20")
                },
                fresh(),
                LOW,
            ),
            (
                "EUR 1 200 rent to a trusted payee",
                RiskFacts {
                    usual_amount: Some(d("1200")),
                    available_balance: Some(d("3000")),
                    ..routine("1200")
                },
                trusted.clone(),
                TRUSTED,
            ),
            (
                "EUR 1 200 rent to a known but untrusted payee",
                RiskFacts {
                    usual_amount: Some(d("1200")),
                    available_balance: Some(d("3000")),
                    ..routine("1200")
                },
                fresh(),
                SCA,
            ),
            (
                "EUR 500 to a known payee, usual 100 (above the ETV)",
                RiskFacts {
                    usual_amount: Some(d("100")),
                    ..routine("500")
                },
                fresh(),
                SCA,
            ),
            (
                "first payment of a new user through a new TPP",
                RiskFacts {
                    usual_amount: None,
                    payee_known: false,
                    new_tpp: true,
                    payments_last_hour: 0,
                    payments_last_day: 0,
                    ..routine("25")
                },
                fresh(),
                SCA,
            ),
            (
                "EUR 2 000 instant cross-border to a new payee, daytime",
                RiskFacts {
                    usual_amount: Some(d("100")),
                    payee_known: false,
                    instant: true,
                    cross_border: true,
                    available_balance: Some(d("10000")),
                    ..routine("2000")
                },
                fresh(),
                SCA,
            ),
            (
                "balance drained at night via a new TPP to a new payee, instant",
                RiskFacts {
                    usual_amount: Some(d("100")),
                    payee_known: false,
                    new_tpp: true,
                    instant: true,
                    hour_utc: 2,
                    available_balance: Some(d("1600")),
                    ..routine("1500")
                },
                trusted,
                REJECT,
            ),
            (
                "burst of 10 payments in an hour to new payees",
                RiskFacts {
                    payee_known: false,
                    payments_last_hour: 10,
                    payments_last_day: 30,
                    usual_amount: Some(d("40")),
                    ..routine("400")
                },
                fresh(),
                REJECT,
            ),
        ];
        let mut seen = Vec::new();
        for (label, facts, state, want) in cases {
            let decision = decide(&facts, &state, &cfg);
            assert_eq!(decision.outcome, want, "{label}: score {}", decision.score);
            seen.push(decision.outcome);
        }
        for outcome in [LOW, TRUSTED, TRA, SCA, REJECT] {
            assert!(seen.contains(&outcome), "{outcome:?} never happens");
        }
    }

    #[test]
    fn low_value_boundaries_follow_article_16() {
        // TRA off, so the low-value rule is what decides.
        let cfg = RiskConfig {
            tra_exemption: false,
            ..calm()
        };
        let state = |count: u32, total: &str| ExemptionState {
            low_value_count_since_sca: count,
            low_value_total_since_sca: d(total),
            payee_trusted: false,
        };
        // (amount, count since SCA, total since SCA, expected)
        let cases: [(&str, u32, &str, Outcome); 14] = [
            ("0.01", 0, "0", LOW),
            ("29.99", 0, "0", LOW),
            ("30", 0, "0", LOW),
            ("30.00", 0, "0", LOW),
            ("30.01", 0, "0", SCA),
            ("30", 0, "70", LOW),
            ("30", 0, "70.01", SCA),
            ("0.01", 0, "99.99", LOW),
            ("0.01", 0, "100", SCA),
            ("10", 4, "40", LOW),
            ("10", 5, "50", SCA),
            ("10", u32::MAX, "0", SCA),
            ("0", 0, "0", SCA),
            ("-10", 0, "0", SCA),
        ];
        for (amount, count, total, want) in cases {
            let got = decide(&routine(amount), &state(count, total), &cfg).outcome;
            assert_eq!(
                got, want,
                "EUR {amount} after {count} payments, EUR {total}"
            );
        }
    }

    #[test]
    fn low_value_overflowing_totals_are_not_exempt() {
        let cfg = RiskConfig {
            tra_exemption: false,
            ..calm()
        };
        let state = ExemptionState {
            low_value_total_since_sca: Decimal::MAX,
            ..fresh()
        };
        assert_eq!(decide(&routine("30"), &state, &cfg).outcome, SCA);
    }

    #[test]
    fn low_value_payments_are_exempt_until_the_fifth() {
        let cfg = RiskConfig {
            tra_exemption: false,
            ..calm()
        };
        // (amount of every payment, outcomes in sequence)
        let cases: [(&str, Vec<Outcome>); 3] = [
            ("10", vec![LOW, LOW, LOW, LOW, LOW, SCA, LOW]),
            ("30", vec![LOW, LOW, LOW, SCA, LOW]),
            ("20", vec![LOW, LOW, LOW, LOW, LOW, SCA, LOW]),
        ];
        for (amount, want) in cases {
            let mut state = fresh();
            let mut got = Vec::new();
            for _ in &want {
                let facts = routine(amount);
                let outcome = decide(&facts, &state, &cfg).outcome;
                // What the caller does: count low-value exemptions, reset on SCA.
                match outcome {
                    Outcome::Exempt(Exemption::LowValue) => {
                        state.low_value_count_since_sca += 1;
                        state.low_value_total_since_sca += facts.amount;
                    }
                    Outcome::Sca => state = fresh(),
                    _ => {}
                }
                got.push(outcome);
            }
            assert_eq!(got, want, "EUR {amount} repeatedly");
        }
    }

    #[test]
    fn tra_threshold_eur_follows_the_rts_annex() {
        let cases: [(f64, Option<&str>); 12] = [
            (0.0, Some("500")),
            (0.001, Some("500")),
            (0.005, Some("500")),
            (0.0051, Some("250")),
            (0.01, Some("250")),
            (0.0101, Some("100")),
            (0.015, Some("100")),
            (0.0151, None),
            (1.0, None),
            (f64::INFINITY, None),
            (f64::NAN, None),
            (-0.01, None),
        ];
        for (rate, want) in cases {
            assert_eq!(tra_threshold_eur(rate), want.map(d), "{rate} %");
        }
    }

    #[test]
    fn tra_exempts_up_to_the_etv_of_each_fraud_rate_band() {
        // (fraud rate %, amount, expected); amounts above EUR 30 so that the
        // low-value rule cannot step in.
        let cases: [(f64, &str, Outcome); 11] = [
            (0.005, "500", TRA),
            (0.005, "500.01", SCA),
            (0.01, "250", TRA),
            (0.01, "250.01", SCA),
            (0.015, "100", TRA),
            (0.015, "100.01", SCA),
            (0.0151, "31", SCA),
            (0.02, "31", SCA),
            (0.02, "100", SCA),
            (0.015, "0", SCA),
            (0.015, "-5", SCA),
        ];
        for (fraud_rate_percent, amount, want) in cases {
            let cfg = RiskConfig {
                fraud_rate_percent,
                ..calm()
            };
            let got = decide(&routine(amount), &fresh(), &cfg).outcome;
            assert_eq!(got, want, "EUR {amount} at {fraud_rate_percent} %");
        }
    }

    #[test]
    fn tra_needs_a_score_below_tra_max_score() {
        let base = calm();
        let s = score_of(&base);
        // (tra_max_score, expected)
        let cases: [(f64, Outcome); 3] = [(s + 1e-9, TRA), (s, SCA), (s - 1e-9, SCA)];
        for (tra_max_score, want) in cases {
            let cfg = RiskConfig {
                tra_max_score,
                ..base.clone()
            };
            let got = decide(&routine("100"), &fresh(), &cfg).outcome;
            assert_eq!(got, want, "score {s} vs tra_max_score {tra_max_score}");
        }
        let disabled = RiskConfig {
            tra_exemption: false,
            ..base
        };
        assert_eq!(decide(&routine("100"), &fresh(), &disabled).outcome, SCA);
    }

    #[test]
    fn with_too_high_a_score_for_tra_small_payments_fall_back_to_low_value() {
        let base = calm();
        let cfg = RiskConfig {
            tra_max_score: score_of(&base),
            ..base
        };
        let cases: [(&str, Outcome); 2] = [("30", LOW), ("31", SCA)];
        for (amount, want) in cases {
            assert_eq!(decide(&routine(amount), &fresh(), &cfg).outcome, want);
        }
    }

    #[test]
    fn trusted_payees_are_exempt_only_below_the_sca_threshold() {
        let base = flat(-1.0);
        let s = score_of(&base);
        let trusted = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        // (sca_threshold, reject_threshold, exemption enabled, state, expected)
        let cases: [(f64, f64, bool, ExemptionState, Outcome); 6] = [
            (s + 1e-9, 0.9, true, trusted.clone(), TRUSTED),
            (s, 0.9, true, trusted.clone(), SCA),
            (s - 1e-9, 0.9, true, trusted.clone(), SCA),
            (s - 0.1, s, true, trusted.clone(), REJECT),
            (s + 1e-9, 0.9, false, trusted, SCA),
            (s + 1e-9, 0.9, true, fresh(), SCA),
        ];
        for (sca_threshold, reject_threshold, enabled, state, want) in cases {
            let cfg = RiskConfig {
                sca_threshold,
                reject_threshold,
                tra_max_score: 0.0,
                trusted_beneficiary_exemption: enabled,
                ..base.clone()
            };
            let got = decide(&routine("5000"), &state, &cfg).outcome;
            assert_eq!(
                got, want,
                "score {s}, sca {sca_threshold}, reject {reject_threshold}, enabled {enabled}"
            );
        }
    }

    #[test]
    fn reject_wins_over_every_exemption() {
        let eligible = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        // (bias, reject_threshold, expected)
        let cases: [(f64, f64, Outcome); 4] = [
            (10.0, 0.9, REJECT),
            (-6.0, 0.0, REJECT),
            (-6.0, 0.9, TRUSTED),
            (10.0, 1.5, SCA),
        ];
        for (bias, reject_threshold, want) in cases {
            let cfg = RiskConfig {
                reject_threshold,
                ..flat(bias)
            };
            let got = decide(&routine("10"), &eligible, &cfg).outcome;
            assert_eq!(got, want, "bias {bias}, reject at {reject_threshold}");
        }
    }

    #[test]
    fn non_eur_payments_are_never_amount_exempt() {
        let cfg = calm();
        let trusted = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        // (amount, state, expected)
        let cases: [(&str, ExemptionState, Outcome); 6] = [
            ("0.01", fresh(), SCA),
            ("10", fresh(), SCA),
            ("30", fresh(), SCA),
            ("100", fresh(), SCA),
            ("250", fresh(), SCA),
            ("250", trusted, TRUSTED),
        ];
        for (amount, state, want) in cases {
            let facts = RiskFacts {
                is_eur: false,
                ..routine(amount)
            };
            let got = decide(&facts, &state, &cfg).outcome;
            assert_eq!(got, want, "non-EUR {amount}");
        }
    }

    #[test]
    fn exemptions_are_tried_trusted_then_tra_then_low_value() {
        let trusted = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        type Edit = fn(&mut RiskConfig);
        // (config change, state, expected): EUR 20 qualifies for all three.
        let cases: [(Edit, ExemptionState, Outcome); 5] = [
            (|_| {}, trusted.clone(), TRUSTED),
            (|_| {}, fresh(), TRA),
            (|c| c.trusted_beneficiary_exemption = false, trusted, TRA),
            (|c| c.tra_exemption = false, fresh(), LOW),
            (
                |c| {
                    c.tra_exemption = false;
                    c.low_value_exemption = false;
                },
                fresh(),
                SCA,
            ),
        ];
        for (edit, state, want) in cases {
            let mut cfg = calm();
            edit(&mut cfg);
            assert_eq!(decide(&routine("20"), &state, &cfg).outcome, want);
        }
    }

    #[test]
    fn a_nan_configuration_fails_closed_to_sca() {
        let trusted = ExemptionState {
            payee_trusted: true,
            ..fresh()
        };
        type Edit = fn(&mut RiskConfig);
        let cases: [Edit; 4] = [
            |c| c.bias = f64::NAN,
            |c| c.weights.night = f64::NAN,
            |c| c.sca_threshold = f64::NAN,
            |c| c.unknown_history_amount_ratio = f64::NAN,
        ];
        for edit in cases {
            let mut cfg = RiskConfig::default();
            edit(&mut cfg);
            let facts = RiskFacts {
                usual_amount: None,
                hour_utc: 1,
                ..routine("10")
            };
            let got = decide(&facts, &trusted, &cfg).outcome;
            assert_eq!(got, SCA, "{cfg:?}");
        }
    }

    #[test]
    fn stricter_ranks_reject_over_sca_over_exempt() {
        let cases: [(Outcome, Outcome, Outcome); 13] = [
            (REJECT, REJECT, REJECT),
            (REJECT, SCA, REJECT),
            (SCA, REJECT, REJECT),
            (REJECT, LOW, REJECT),
            (TRA, REJECT, REJECT),
            (SCA, SCA, SCA),
            (SCA, TRUSTED, SCA),
            (LOW, SCA, SCA),
            (LOW, TRA, TRA),
            (TRA, LOW, LOW),
            (TRUSTED, TRA, TRA),
            (TRA, TRUSTED, TRUSTED),
            (LOW, LOW, LOW),
        ];
        for (a, b, want) in cases {
            assert_eq!(stricter(a, b), want, "stricter({a:?}, {b:?})");
        }
    }

    #[test]
    fn names_are_stable() {
        let cases: [(Outcome, &str, Option<&str>); 5] = [
            (LOW, "exempt", Some("lowValue")),
            (TRUSTED, "exempt", Some("trustedBeneficiary")),
            (TRA, "exempt", Some("transactionRiskAnalysis")),
            (SCA, "sca", None),
            (REJECT, "reject", None),
        ];
        for (outcome, name, exemption) in cases {
            assert_eq!(outcome.as_str(), name);
            assert_eq!(outcome.to_string(), name);
            assert_eq!(outcome.exemption().map(Exemption::as_str), exemption);
            if let Some(e) = outcome.exemption() {
                assert_eq!(Some(e.to_string().as_str()), exemption);
            }
        }
    }

    #[test]
    fn the_same_input_gives_the_identical_decision() {
        let cfg = RiskConfig::default();
        let inputs = [
            routine("25"),
            RiskFacts {
                payee_known: false,
                new_tpp: true,
                hour_utc: 3,
                ..routine("4500")
            },
            RiskFacts {
                usual_amount: None,
                available_balance: None,
                ..routine("900")
            },
        ];
        for facts in inputs {
            let first = decide(&facts, &fresh(), &cfg);
            let second = decide(&facts.clone(), &fresh(), &cfg.clone());
            assert_eq!(first, second);
            assert_eq!(first.score.to_bits(), second.score.to_bits());
            assert_eq!(
                serde_json::to_string(&explain(&first)).unwrap(),
                serde_json::to_string(&explain(&second)).unwrap()
            );
        }
    }

    #[test]
    fn decisions_carry_features_and_the_top_three_reasons() {
        let facts = RiskFacts {
            usual_amount: Some(d("50")),
            payee_known: false,
            payments_last_hour: 0,
            payments_last_day: 0,
            available_balance: None,
            ..routine("900")
        };
        let decision = decide(&facts, &fresh(), &RiskConfig::default());
        let names: Vec<&str> = decision.features.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, super::super::FEATURE_NAMES);
        // newPayee 2.0 > amountVsUsual 0.5·ln 18 ≈ 1.45 > amountSize 0.6·1 = 0.6.
        assert_eq!(
            decision.reasons,
            vec!["newPayee", "amountVsUsual", "amountSize"]
        );
        let calm_decision = decide(&routine("25"), &fresh(), &calm());
        assert!(calm_decision.reasons.is_empty());
    }

    #[test]
    fn explain_gives_outcome_exemption_score_features_and_reasons() {
        let decision = Decision {
            outcome: LOW,
            score: 0.125,
            features: vec![("newPayee", 1.0), ("amountSize", 0.5)],
            reasons: vec!["newPayee"],
        };
        assert_eq!(
            explain(&decision),
            json!({
                "outcome": "exempt",
                "exemption": "lowValue",
                "score": 0.125,
                "features": {"amountSize": 0.5, "newPayee": 1.0},
                "reasons": ["newPayee"],
            })
        );
        let sca = Decision {
            outcome: SCA,
            reasons: vec![],
            ..decision
        };
        let value = explain(&sca);
        assert_eq!(value["outcome"], "sca");
        assert_eq!(value["exemption"], Value::Null);
        assert_eq!(value["reasons"], json!([]));
    }
}
