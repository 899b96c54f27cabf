//! Facts → features: each fact becomes a number roughly in `[0, 3]`, larger is
//! riskier.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{RiskConfig, RiskFacts};

/// How many features there are.
pub(super) const FEATURE_COUNT: usize = 10;

/// The stable feature names, in the order of [`RiskFeatures::named`], for storage
/// and explanations.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "amountVsUsual",
    "amountSize",
    "newPayee",
    "velocityHour",
    "velocityDay",
    "crossBorder",
    "instant",
    "night",
    "newTpp",
    "amountVsBalance",
];

/// Upper clamp of [`RiskFeatures::amount_vs_usual`] (an amount e³ ≈ 20 times the
/// usual one or more).
const AMOUNT_VS_USUAL_MAX: f64 = 3.0;
/// Upper clamp of [`RiskFeatures::amount_vs_balance`].
const AMOUNT_VS_BALANCE_MAX: f64 = 2.0;
/// Payments per hour beyond which velocity stops growing, and its divisor.
const VELOCITY_HOUR_CAP: u32 = 10;
const VELOCITY_HOUR_DIVISOR: f64 = 2.0;
/// Payments per day beyond which velocity stops growing, and its divisor.
const VELOCITY_DAY_CAP: u32 = 50;
const VELOCITY_DAY_DIVISOR: f64 = 10.0;
/// Night is `0..NIGHT_END_HOUR` UTC.
const NIGHT_END_HOUR: u8 = 6;

/// The model's inputs, derived from [`RiskFacts`] by [`features`]. Every value is
/// finite and non-negative (given a finite, non-negative
/// [`RiskConfig::unknown_history_amount_ratio`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RiskFeatures {
    /// `ln(amount / usual_amount)` clamped to `[0, 3]`: 0 for the usual amount or
    /// less, 3 for about 20 times it or more. Without history (or a usual amount of
    /// zero or less) it is [`RiskConfig::unknown_history_amount_ratio`]; a zero or
    /// negative amount gives 0.
    pub amount_vs_usual: f64,
    /// `log10(1 + amount / 100)`: the absolute size (EUR 100 → 0.3, 900 → 1,
    /// 9 900 → 2). Negative amounts count as 0.
    pub amount_size: f64,
    /// 1 if the PSU has never paid this creditor IBAN, else 0.
    pub new_payee: f64,
    /// `min(payments_last_hour, 10) / 2`, in `[0, 5]`.
    pub velocity_hour: f64,
    /// `min(payments_last_day, 50) / 10`, in `[0, 5]`.
    pub velocity_day: f64,
    /// 1 if cross-border, else 0.
    pub cross_border: f64,
    /// 1 if an instant credit transfer, else 0.
    pub instant: f64,
    /// 1 if scored between 00:00 and 05:59 UTC, else 0.
    pub night: f64,
    /// 1 if the PSU has never had a payment executed through this TPP, else 0.
    pub new_tpp: f64,
    /// `amount / available_balance` clamped to `[0, 2]`; 2 if the balance is zero
    /// or negative, 0 if it is unknown.
    pub amount_vs_balance: f64,
}

impl RiskFeatures {
    /// The features with their stable camelCase names ([`FEATURE_NAMES`]), in a
    /// fixed order.
    #[must_use]
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        FEATURE_NAMES.into_iter().zip(self.as_array()).collect()
    }

    /// The values in [`FEATURE_NAMES`] order.
    pub(super) fn as_array(&self) -> [f64; FEATURE_COUNT] {
        [
            self.amount_vs_usual,
            self.amount_size,
            self.new_payee,
            self.velocity_hour,
            self.velocity_day,
            self.cross_border,
            self.instant,
            self.night,
            self.new_tpp,
            self.amount_vs_balance,
        ]
    }
}

/// Derives the features of a payment (pure).
#[must_use]
pub fn features(facts: &RiskFacts, cfg: &RiskConfig) -> RiskFeatures {
    RiskFeatures {
        amount_vs_usual: amount_vs_usual(
            facts.amount,
            facts.usual_amount,
            cfg.unknown_history_amount_ratio,
        ),
        amount_size: amount_size(facts.amount),
        new_payee: flag(!facts.payee_known),
        velocity_hour: f64::from(facts.payments_last_hour.min(VELOCITY_HOUR_CAP))
            / VELOCITY_HOUR_DIVISOR,
        velocity_day: f64::from(facts.payments_last_day.min(VELOCITY_DAY_CAP))
            / VELOCITY_DAY_DIVISOR,
        cross_border: flag(facts.cross_border),
        instant: flag(facts.instant),
        night: flag(facts.hour_utc % 24 < NIGHT_END_HOUR),
        new_tpp: flag(facts.new_tpp),
        amount_vs_balance: amount_vs_balance(facts.amount, facts.available_balance),
    }
}

fn flag(set: bool) -> f64 {
    if set { 1.0 } else { 0.0 }
}

/// `amount / divisor` as `f64`, or `None` if the quotient overflows `Decimal`.
fn ratio(amount: Decimal, divisor: Decimal) -> Option<f64> {
    amount.checked_div(divisor).and_then(|r| r.to_f64())
}

fn amount_vs_usual(amount: Decimal, usual: Option<Decimal>, unknown_history: f64) -> f64 {
    let Some(usual) = usual.filter(|u| *u > Decimal::ZERO) else {
        return unknown_history;
    };
    if amount <= Decimal::ZERO {
        return 0.0;
    }
    // A quotient too large for Decimal is far beyond the clamp. A quotient that
    // rounds to zero gives ln = -inf, clamped to 0.
    ratio(amount, usual).map_or(AMOUNT_VS_USUAL_MAX, |r| {
        r.ln().clamp(0.0, AMOUNT_VS_USUAL_MAX)
    })
}

fn amount_size(amount: Decimal) -> f64 {
    // Dividing by 100 cannot overflow; to_f64 never fails.
    let hundreds = ratio(amount.max(Decimal::ZERO), Decimal::ONE_HUNDRED).unwrap_or(0.0);
    (1.0 + hundreds).log10()
}

fn amount_vs_balance(amount: Decimal, balance: Option<Decimal>) -> f64 {
    match balance {
        None => 0.0,
        Some(balance) if balance <= Decimal::ZERO => AMOUNT_VS_BALANCE_MAX,
        Some(_) if amount <= Decimal::ZERO => 0.0,
        Some(balance) => ratio(amount, balance).map_or(AMOUNT_VS_BALANCE_MAX, |r| {
            r.clamp(0.0, AMOUNT_VS_BALANCE_MAX)
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn facts() -> RiskFacts {
        RiskFacts {
            amount: d("25"),
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn a_routine_payment_has_small_features() {
        let f = features(&facts(), &RiskConfig::default());
        let expected = RiskFeatures {
            amount_vs_usual: 0.0,
            amount_size: 1.25_f64.log10(),
            new_payee: 0.0,
            velocity_hour: 0.5,
            velocity_day: 0.3,
            cross_border: 0.0,
            instant: 0.0,
            night: 0.0,
            new_tpp: 0.0,
            amount_vs_balance: 0.0125,
        };
        for ((name, got), (_, want)) in f.named().into_iter().zip(expected.named()) {
            assert!(close(got, want), "{name}: {got} != {want}");
        }
    }

    #[test]
    fn amount_vs_usual_is_the_clamped_log_ratio() {
        // (amount, usual, unknown-history value, expected)
        let cases: [(&str, Option<&str>, f64, f64); 11] = [
            ("25", None, 1.0, 1.0),
            ("25", None, 0.5, 0.5),
            ("25", Some("0"), 1.0, 1.0),
            ("25", Some("-10"), 1.0, 1.0),
            ("25", Some("30"), 1.0, 0.0),
            ("30", Some("30"), 1.0, 0.0),
            ("60", Some("30"), 1.0, 2.0_f64.ln()),
            ("900", Some("50"), 1.0, 18.0_f64.ln()),
            ("4500", Some("100"), 1.0, 3.0),
            ("0", Some("30"), 1.0, 0.0),
            ("-5", Some("30"), 1.0, 0.0),
        ];
        for (amount, usual, unknown, want) in cases {
            let got = amount_vs_usual(d(amount), usual.map(d), unknown);
            assert!(close(got, want), "{amount} vs {usual:?}: {got} != {want}");
        }
    }

    #[test]
    fn amount_vs_usual_saturates_instead_of_overflowing() {
        let cases: [(Decimal, Decimal, f64); 3] = [
            (Decimal::MAX, d("0.0000000000000000000000000001"), 3.0),
            (d("0.0000000000000000000000000001"), Decimal::MAX, 0.0),
            (Decimal::MAX, Decimal::MAX, 0.0),
        ];
        for (amount, usual, want) in cases {
            assert_eq!(amount_vs_usual(amount, Some(usual), 1.0), want);
        }
    }

    #[test]
    fn amount_size_grows_logarithmically() {
        let cases: [(&str, f64); 6] = [
            ("0", 0.0),
            ("-100", 0.0),
            ("100", 2.0_f64.log10()),
            ("900", 1.0),
            ("9900", 2.0),
            ("99900", 3.0),
        ];
        for (amount, want) in cases {
            let got = amount_size(d(amount));
            assert!(close(got, want), "{amount}: {got} != {want}");
        }
        assert!(amount_size(Decimal::MAX).is_finite());
    }

    #[test]
    fn amount_vs_balance_is_clamped_and_handles_missing_or_empty_balances() {
        let cases: [(&str, Option<&str>, f64); 9] = [
            ("100", None, 0.0),
            ("100", Some("0"), 2.0),
            ("100", Some("-50"), 2.0),
            ("0", Some("0"), 2.0),
            ("4500", Some("5000"), 0.9),
            ("100", Some("100"), 1.0),
            ("300", Some("100"), 2.0),
            ("0", Some("100"), 0.0),
            ("-10", Some("100"), 0.0),
        ];
        for (amount, balance, want) in cases {
            let got = amount_vs_balance(d(amount), balance.map(d));
            assert!(close(got, want), "{amount} of {balance:?}: {got} != {want}");
        }
        let tiny = Some(d("0.0000000000000000000000000001"));
        assert_eq!(amount_vs_balance(Decimal::MAX, tiny), 2.0);
    }

    #[test]
    fn velocity_is_capped() {
        // (last hour, last day, velocity_hour, velocity_day)
        let cases: [(u32, u32, f64, f64); 6] = [
            (0, 0, 0.0, 0.0),
            (1, 3, 0.5, 0.3),
            (6, 20, 3.0, 2.0),
            (10, 50, 5.0, 5.0),
            (11, 51, 5.0, 5.0),
            (u32::MAX, u32::MAX, 5.0, 5.0),
        ];
        for (hour, day, want_hour, want_day) in cases {
            let f = features(
                &RiskFacts {
                    payments_last_hour: hour,
                    payments_last_day: day,
                    ..facts()
                },
                &RiskConfig::default(),
            );
            assert!(close(f.velocity_hour, want_hour), "{hour}/h");
            assert!(close(f.velocity_day, want_day), "{day}/day");
        }
    }

    #[test]
    fn night_is_midnight_to_six_utc() {
        let cases: [(u8, f64); 8] = [
            (0, 1.0),
            (3, 1.0),
            (5, 1.0),
            (6, 0.0),
            (12, 0.0),
            (23, 0.0),
            (24, 1.0),
            (u8::MAX, 0.0),
        ];
        for (hour_utc, want) in cases {
            let f = features(
                &RiskFacts {
                    hour_utc,
                    ..facts()
                },
                &RiskConfig::default(),
            );
            assert_eq!(f.night, want, "hour {hour_utc}");
        }
    }

    #[test]
    fn flags_are_zero_or_one() {
        type Edit = fn(&mut RiskFacts);
        type Get = fn(&RiskFeatures) -> f64;
        let cases: [(Edit, Get); 4] = [
            (|f| f.payee_known = false, |x| x.new_payee),
            (|f| f.cross_border = true, |x| x.cross_border),
            (|f| f.instant = true, |x| x.instant),
            (|f| f.new_tpp = true, |x| x.new_tpp),
        ];
        for (edit, get) in cases {
            let cfg = RiskConfig::default();
            assert_eq!(get(&features(&facts(), &cfg)), 0.0);
            let mut changed = facts();
            edit(&mut changed);
            assert_eq!(get(&features(&changed, &cfg)), 1.0);
        }
    }

    #[test]
    fn features_stay_finite_and_non_negative_for_extreme_inputs() {
        let amounts = [Decimal::MAX, Decimal::MIN, Decimal::ZERO, d("0.01")];
        let others = [
            None,
            Some(Decimal::MAX),
            Some(Decimal::MIN),
            Some(Decimal::ZERO),
        ];
        for amount in amounts {
            for other in others {
                let f = features(
                    &RiskFacts {
                        amount,
                        usual_amount: other,
                        available_balance: other,
                        payments_last_hour: u32::MAX,
                        payments_last_day: u32::MAX,
                        hour_utc: u8::MAX,
                        ..facts()
                    },
                    &RiskConfig::default(),
                );
                for (name, value) in f.named() {
                    assert!(value.is_finite() && value >= 0.0, "{name} = {value}");
                }
            }
        }
    }

    #[test]
    fn named_uses_stable_camel_case_names_in_a_fixed_order() {
        let f = RiskFeatures {
            amount_vs_usual: 1.0,
            amount_size: 2.0,
            new_payee: 3.0,
            velocity_hour: 4.0,
            velocity_day: 5.0,
            cross_border: 6.0,
            instant: 7.0,
            night: 8.0,
            new_tpp: 9.0,
            amount_vs_balance: 10.0,
        };
        assert_eq!(
            f.named(),
            vec![
                ("amountVsUsual", 1.0),
                ("amountSize", 2.0),
                ("newPayee", 3.0),
                ("velocityHour", 4.0),
                ("velocityDay", 5.0),
                ("crossBorder", 6.0),
                ("instant", 7.0),
                ("night", 8.0),
                ("newTpp", 9.0),
                ("amountVsBalance", 10.0),
            ]
        );
    }
}
