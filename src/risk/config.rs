//! The risk configuration: logistic weights, thresholds and exemption switches.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::feature::FEATURE_COUNT;

/// One weight per feature of [`RiskFeatures`](super::RiskFeatures), same names.
///
/// A feature's contribution to the score is `weight × value`; a positive weight
/// makes the feature raise the risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskWeights {
    /// Weight of [`RiskFeatures::amount_vs_usual`](super::RiskFeatures::amount_vs_usual).
    pub amount_vs_usual: f64,
    /// Weight of [`RiskFeatures::amount_size`](super::RiskFeatures::amount_size).
    pub amount_size: f64,
    /// Weight of [`RiskFeatures::new_payee`](super::RiskFeatures::new_payee).
    pub new_payee: f64,
    /// Weight of [`RiskFeatures::velocity_hour`](super::RiskFeatures::velocity_hour).
    pub velocity_hour: f64,
    /// Weight of [`RiskFeatures::velocity_day`](super::RiskFeatures::velocity_day).
    pub velocity_day: f64,
    /// Weight of [`RiskFeatures::cross_border`](super::RiskFeatures::cross_border).
    pub cross_border: f64,
    /// Weight of [`RiskFeatures::instant`](super::RiskFeatures::instant).
    pub instant: f64,
    /// Weight of [`RiskFeatures::night`](super::RiskFeatures::night).
    pub night: f64,
    /// Weight of [`RiskFeatures::new_tpp`](super::RiskFeatures::new_tpp).
    pub new_tpp: f64,
    /// Weight of [`RiskFeatures::amount_vs_balance`](super::RiskFeatures::amount_vs_balance).
    pub amount_vs_balance: f64,
}

impl Default for RiskWeights {
    /// Calibrated so that a new payee (2.0) with a large, unusual amount needs SCA,
    /// and a rejection takes several further signals; see the module docs.
    fn default() -> Self {
        Self {
            amount_vs_usual: 0.5,
            amount_size: 0.6,
            new_payee: 2.0,
            velocity_hour: 0.6,
            velocity_day: 0.3,
            cross_border: 0.5,
            instant: 0.4,
            night: 0.7,
            new_tpp: 0.8,
            amount_vs_balance: 1.2,
        }
    }
}

impl RiskWeights {
    /// The weights in [`FEATURE_NAMES`](super::FEATURE_NAMES) order.
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

    /// The weights in [`FEATURE_NAMES`](super::FEATURE_NAMES) order, by field name.
    fn named_snake(&self) -> [(&'static str, f64); FEATURE_COUNT] {
        [
            ("weights.amount_vs_usual", self.amount_vs_usual),
            ("weights.amount_size", self.amount_size),
            ("weights.new_payee", self.new_payee),
            ("weights.velocity_hour", self.velocity_hour),
            ("weights.velocity_day", self.velocity_day),
            ("weights.cross_border", self.cross_border),
            ("weights.instant", self.instant),
            ("weights.night", self.night),
            ("weights.new_tpp", self.new_tpp),
            ("weights.amount_vs_balance", self.amount_vs_balance),
        ]
    }
}

/// The risk engine's configuration. Every key is optional in a file (missing keys
/// take the [`Default`]); unknown keys are an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// The logistic bias `b`: the log-odds of a payment with all features at zero
    /// (default −4.0, a score of about 0.018).
    pub bias: f64,
    /// The logistic weights `w`, one per feature.
    pub weights: RiskWeights,
    /// Value of the `amount_vs_usual` feature when the PSU has no payment history
    /// (default 1.0: as unusual as an amount e ≈ 2.7 times the usual one).
    pub unknown_history_amount_ratio: f64,
    /// score ≥ this → SCA required (unless it's ≥ reject). Default 0.30.
    pub sca_threshold: f64,
    /// score ≥ this → reject. Default 0.90; a value above 1 never rejects.
    pub reject_threshold: f64,
    /// score < this → low enough for transaction-risk analysis exemption
    /// (Art. 18). Default 0.10.
    pub tra_max_score: f64,
    /// The bank's fraud rate for remote electronic credit transfers, in percent
    /// (e.g. 0.01). Determines the Art. 18 exemption threshold value via the RTS
    /// Annex (see [`tra_threshold_eur`](super::tra_threshold_eur)). Default 0.01
    /// (ETV EUR 250).
    pub fraud_rate_percent: f64,
    /// Whether the low-value exemption (Art. 16) is enabled. Default true.
    pub low_value_exemption: bool,
    /// Whether the trusted-beneficiary exemption (Art. 13) is enabled. Default
    /// true.
    pub trusted_beneficiary_exemption: bool,
    /// Whether the transaction-risk-analysis exemption (Art. 18) is enabled.
    /// Default true.
    pub tra_exemption: bool,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            bias: -4.0,
            weights: RiskWeights::default(),
            unknown_history_amount_ratio: 1.0,
            sca_threshold: 0.30,
            reject_threshold: 0.90,
            tra_max_score: 0.10,
            fraud_rate_percent: 0.01,
            low_value_exemption: true,
            trusted_beneficiary_exemption: true,
            tra_exemption: true,
        }
    }
}

impl RiskConfig {
    /// Checks the configuration: every number finite, the unknown-history ratio in
    /// `[0, 3]`, `0 ≤ tra_max_score ≤ sca_threshold ≤ reject_threshold`, and a
    /// non-negative fraud rate. Call it when loading the configuration.
    ///
    /// # Errors
    /// The first offending key.
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        let numbers = [
            ("bias", self.bias),
            (
                "unknown_history_amount_ratio",
                self.unknown_history_amount_ratio,
            ),
            ("sca_threshold", self.sca_threshold),
            ("reject_threshold", self.reject_threshold),
            ("tra_max_score", self.tra_max_score),
            ("fraud_rate_percent", self.fraud_rate_percent),
        ];
        for (key, value) in numbers.into_iter().chain(self.weights.named_snake()) {
            if !value.is_finite() {
                return Err(RiskConfigError::new(key, "must be a finite number"));
            }
        }
        if !(0.0..=3.0).contains(&self.unknown_history_amount_ratio) {
            return Err(RiskConfigError::new(
                "unknown_history_amount_ratio",
                "must be between 0 and 3",
            ));
        }
        if self.tra_max_score < 0.0 {
            return Err(RiskConfigError::new(
                "tra_max_score",
                "must not be negative",
            ));
        }
        if self.sca_threshold < self.tra_max_score {
            return Err(RiskConfigError::new(
                "sca_threshold",
                "must not be below tra_max_score",
            ));
        }
        if self.reject_threshold < self.sca_threshold {
            return Err(RiskConfigError::new(
                "reject_threshold",
                "must not be below sca_threshold",
            ));
        }
        if self.fraud_rate_percent < 0.0 {
            return Err(RiskConfigError::new(
                "fraud_rate_percent",
                "must not be negative",
            ));
        }
        Ok(())
    }
}

/// A [`RiskConfig`] that [`RiskConfig::validate`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskConfigError {
    /// The offending key (`weights.` prefixed for a weight).
    pub key: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl RiskConfigError {
    const fn new(key: &'static str, problem: &'static str) -> Self {
        Self { key, problem }
    }
}

impl fmt::Display for RiskConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "risk configuration: {} {}", self.key, self.problem)
    }
}

impl std::error::Error for RiskConfigError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips_through_toml() {
        let text = toml::to_string(&RiskConfig::default()).unwrap();
        let back: RiskConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, RiskConfig::default());
    }

    #[test]
    fn changed_config_round_trips_through_toml() {
        let mut cfg = RiskConfig {
            bias: -3.25,
            fraud_rate_percent: 0.005,
            tra_exemption: false,
            ..RiskConfig::default()
        };
        cfg.weights.night = 0.0;
        cfg.weights.new_payee = 2.5;
        let back: RiskConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn weights_round_trip_through_toml_on_their_own() {
        let weights = RiskWeights::default();
        let back: RiskWeights = toml::from_str(&toml::to_string(&weights).unwrap()).unwrap();
        assert_eq!(back, weights);
    }

    #[test]
    fn missing_keys_take_their_defaults() {
        let cases: [(&str, RiskConfig); 4] = [
            ("", RiskConfig::default()),
            (
                "sca_threshold = 0.4",
                RiskConfig {
                    sca_threshold: 0.4,
                    ..RiskConfig::default()
                },
            ),
            (
                "[weights]\nnew_payee = 3.0",
                RiskConfig {
                    weights: RiskWeights {
                        new_payee: 3.0,
                        ..RiskWeights::default()
                    },
                    ..RiskConfig::default()
                },
            ),
            (
                "tra_exemption = false\nfraud_rate_percent = 0.02",
                RiskConfig {
                    tra_exemption: false,
                    fraud_rate_percent: 0.02,
                    ..RiskConfig::default()
                },
            ),
        ];
        for (text, expected) in cases {
            let parsed: RiskConfig = toml::from_str(text).unwrap();
            assert_eq!(parsed, expected, "{text:?}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        for text in [
            "sca_treshold = 0.4",
            "[weights]\nnew_payees = 1.0",
            "[weights]\nbias = 1.0",
        ] {
            assert!(toml::from_str::<RiskConfig>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_default_config_is_valid() {
        assert_eq!(RiskConfig::default().validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_first_bad_key() {
        type Edit = fn(&mut RiskConfig);
        let cases: [(Edit, &str); 9] = [
            (|c| c.bias = f64::NAN, "bias"),
            (|c| c.weights.night = f64::INFINITY, "weights.night"),
            (
                |c| c.unknown_history_amount_ratio = -0.1,
                "unknown_history_amount_ratio",
            ),
            (
                |c| c.unknown_history_amount_ratio = 3.1,
                "unknown_history_amount_ratio",
            ),
            (|c| c.tra_max_score = -0.01, "tra_max_score"),
            (|c| c.tra_max_score = 0.5, "sca_threshold"),
            (|c| c.reject_threshold = 0.2, "reject_threshold"),
            (|c| c.fraud_rate_percent = -0.01, "fraud_rate_percent"),
            (|c| c.sca_threshold = f64::NAN, "sca_threshold"),
        ];
        for (edit, key) in cases {
            let mut cfg = RiskConfig::default();
            edit(&mut cfg);
            assert_eq!(cfg.validate().map_err(|e| e.key), Err(key));
        }
    }

    #[test]
    fn validate_accepts_the_edges() {
        type Edit = fn(&mut RiskConfig);
        let cases: [Edit; 5] = [
            |c| c.reject_threshold = 1.5,
            |c| c.tra_max_score = c.sca_threshold,
            |c| c.sca_threshold = c.reject_threshold,
            |c| c.fraud_rate_percent = 0.0,
            |c| c.weights.new_tpp = -1.0,
        ];
        for edit in cases {
            let mut cfg = RiskConfig::default();
            edit(&mut cfg);
            assert_eq!(cfg.validate(), Ok(()), "{cfg:?}");
        }
    }

    #[test]
    fn config_errors_read_well() {
        let err = RiskConfigError::new("bias", "must be a finite number");
        assert_eq!(
            err.to_string(),
            "risk configuration: bias must be a finite number"
        );
    }
}
