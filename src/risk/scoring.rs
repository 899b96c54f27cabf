//! Features → score: a logistic model with per-feature contributions.

use super::feature::FEATURE_NAMES;
use super::{RiskConfig, RiskFeatures};

/// A score with the contribution of each feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// `1 / (1 + e^-(w·x + b))`, in `[0, 1]`.
    pub score: f64,
    /// `w_i·x_i` per feature, in [`FEATURE_NAMES`] order.
    pub contributions: Vec<(&'static str, f64)>,
}

impl Scored {
    /// The names of the `n` largest positive contributions, largest first; equal
    /// contributions are ordered by name, so the result is deterministic.
    /// Features that lowered or did not change the score are never reasons.
    #[must_use]
    pub fn top_reasons(&self, n: usize) -> Vec<&'static str> {
        let mut positive: Vec<(&'static str, f64)> = self
            .contributions
            .iter()
            .copied()
            .filter(|(_, c)| *c > 0.0)
            .collect();
        positive
            .sort_by(|(name_a, a), (name_b, b)| b.total_cmp(a).then_with(|| name_a.cmp(name_b)));
        positive.into_iter().take(n).map(|(name, _)| name).collect()
    }
}

/// Scores features with the configured weights and bias (pure).
#[must_use]
pub fn score(features: &RiskFeatures, cfg: &RiskConfig) -> Scored {
    let contributions: Vec<(&'static str, f64)> = FEATURE_NAMES
        .into_iter()
        .zip(cfg.weights.as_array())
        .zip(features.as_array())
        .map(|((name, weight), value)| (name, weight * value))
        .collect();
    let z = contributions.iter().fold(cfg.bias, |z, (_, c)| z + c);
    Scored {
        score: logistic(z),
        contributions,
    }
}

/// The logistic function; 0 for `z = -∞`, 1 for `z = +∞`, NaN for NaN.
fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::RiskWeights;
    use super::*;

    fn all(value: f64) -> RiskFeatures {
        RiskFeatures {
            amount_vs_usual: value,
            amount_size: value,
            new_payee: value,
            velocity_hour: value,
            velocity_day: value,
            cross_border: value,
            instant: value,
            night: value,
            new_tpp: value,
            amount_vs_balance: value,
        }
    }

    /// The feature at `index` in `FEATURE_NAMES` order.
    fn feature_field(f: &mut RiskFeatures, index: usize) -> &mut f64 {
        [
            &mut f.amount_vs_usual,
            &mut f.amount_size,
            &mut f.new_payee,
            &mut f.velocity_hour,
            &mut f.velocity_day,
            &mut f.cross_border,
            &mut f.instant,
            &mut f.night,
            &mut f.new_tpp,
            &mut f.amount_vs_balance,
        ]
        .into_iter()
        .nth(index)
        .unwrap()
    }

    fn weight_field(w: &mut RiskWeights, index: usize) -> &mut f64 {
        [
            &mut w.amount_vs_usual,
            &mut w.amount_size,
            &mut w.new_payee,
            &mut w.velocity_hour,
            &mut w.velocity_day,
            &mut w.cross_border,
            &mut w.instant,
            &mut w.night,
            &mut w.new_tpp,
            &mut w.amount_vs_balance,
        ]
        .into_iter()
        .nth(index)
        .unwrap()
    }

    #[test]
    fn score_is_the_logistic_of_bias_plus_weighted_features() {
        let cfg = RiskConfig::default();
        let w_sum: f64 = cfg.weights.as_array().iter().sum();
        // (features, expected log-odds)
        let cases: [(RiskFeatures, f64); 3] = [
            (all(0.0), cfg.bias),
            (all(1.0), cfg.bias + w_sum),
            (all(0.5), cfg.bias + 0.5 * w_sum),
        ];
        for (f, z) in cases {
            let got = score(&f, &cfg).score;
            let want = 1.0 / (1.0 + (-z).exp());
            assert!((got - want).abs() < 1e-12, "{got} != {want}");
        }
        assert_eq!(logistic(0.0), 0.5);
        assert_eq!(logistic(f64::INFINITY), 1.0);
        assert_eq!(logistic(f64::NEG_INFINITY), 0.0);
        assert!(logistic(f64::NAN).is_nan());
    }

    #[test]
    fn contributions_are_weight_times_feature_in_name_order() {
        let cfg = RiskConfig::default();
        let f = all(2.0);
        let scored = score(&f, &cfg);
        let names: Vec<&str> = scored.contributions.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, FEATURE_NAMES);
        for ((_, c), w) in scored.contributions.iter().zip(cfg.weights.as_array()) {
            assert_eq!(*c, 2.0 * w);
        }
    }

    #[test]
    fn score_is_monotone_in_each_positive_weight() {
        let cfg = RiskConfig::default();
        for (index, name) in FEATURE_NAMES.into_iter().enumerate() {
            let base = all(0.5);
            let before = score(&base, &cfg).score;

            let mut heavier = cfg.clone();
            *weight_field(&mut heavier.weights, index) += 0.5;
            assert!(score(&base, &heavier).score > before, "{name}: weight");

            let mut more = base;
            *feature_field(&mut more, index) += 0.5;
            assert!(score(&more, &cfg).score > before, "{name}: feature");

            let mut off = cfg.clone();
            *weight_field(&mut off.weights, index) = 0.0;
            let mut ignored = base;
            *feature_field(&mut ignored, index) = 3.0;
            assert_eq!(
                score(&ignored, &off).score,
                score(&base, &off).score,
                "{name}: zero weight"
            );
        }
    }

    #[test]
    fn top_reasons_are_the_largest_positive_contributions_ties_by_name() {
        let scored = |contributions: &[(&'static str, f64)]| Scored {
            score: 0.5,
            contributions: contributions.to_vec(),
        };
        // (contributions, n, expected)
        let cases: [(Scored, usize, Vec<&str>); 6] = [
            (scored(&[]), 3, vec![]),
            (
                scored(&[("a", 0.1), ("b", 0.3), ("c", 0.2), ("d", 0.4)]),
                3,
                vec!["d", "b", "c"],
            ),
            (
                scored(&[("night", 0.6), ("instant", 0.6), ("newTpp", 0.6)]),
                2,
                vec!["instant", "newTpp"],
            ),
            (scored(&[("a", 0.0), ("b", -1.0), ("c", 0.5)]), 3, vec!["c"]),
            (scored(&[("a", 1.0), ("b", 2.0)]), 0, vec![]),
            (scored(&[("a", 1.0), ("b", 2.0)]), 10, vec!["b", "a"]),
        ];
        for (s, n, want) in cases {
            assert_eq!(s.top_reasons(n), want, "{s:?}");
        }
    }
}
