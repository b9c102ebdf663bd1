//! Statistics the dashboard draws and reports: quantiles and box-plot summaries.

use serde::Serialize;

/// The `q` quantile (0 to 1) of sorted values, interpolated between neighbours as PostgreSQL's
/// `percentile_cont` does; `None` for no values.
///
/// ```
/// use fmd_core::stats::quantile;
/// assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
/// assert_eq!(quantile(&[], 0.5), None);
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// What a box plot draws of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoxStats {
    /// How many values.
    pub count: u64,
    /// The smallest.
    pub min_ms: f64,
    /// The first quartile.
    pub q1_ms: f64,
    /// The median.
    pub median_ms: f64,
    /// The third quartile.
    pub q3_ms: f64,
    /// The largest.
    pub max_ms: f64,
    /// Where the lower whisker ends: 1.5 interquartile ranges below the first quartile, or the
    /// minimum when that is nearer (Tukey's fence, from the quantiles).
    pub low_ms: f64,
    /// Where the upper whisker ends: 1.5 interquartile ranges above the third quartile, or the
    /// maximum when that is nearer.
    pub high_ms: f64,
}

impl BoxStats {
    /// The summary of sorted values; `None` for no values.
    ///
    /// ```
    /// use fmd_core::stats::BoxStats;
    /// let b = BoxStats::of_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    /// assert_eq!((b.count, b.min_ms, b.q1_ms, b.median_ms, b.q3_ms, b.max_ms), (5, 1.0, 2.0, 3.0, 4.0, 5.0));
    /// // A long tail: the upper whisker stops 1.5 interquartile ranges above the box.
    /// let tail = BoxStats::of_sorted(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
    /// assert_eq!((tail.low_ms, tail.high_ms, tail.max_ms), (1.0, 7.0, 100.0));
    /// ```
    pub fn of_sorted(sorted: &[f64]) -> Option<BoxStats> {
        Self::from_quantiles(sorted.len() as u64, |q| quantile(sorted, q))
    }

    /// The summary of `count` values whose quantiles `at` gives (in milliseconds).
    pub fn from_quantiles(count: u64, at: impl Fn(f64) -> Option<f64>) -> Option<BoxStats> {
        if count == 0 {
            return None;
        }
        let (min_ms, q1_ms, q3_ms, max_ms) = (at(0.0)?, at(0.25)?, at(0.75)?, at(1.0)?);
        let reach = 1.5 * (q3_ms - q1_ms);
        Some(BoxStats {
            count,
            min_ms,
            q1_ms,
            median_ms: at(0.5)?,
            q3_ms,
            max_ms,
            low_ms: (q1_ms - reach).max(min_ms),
            high_ms: (q3_ms + reach).min(max_ms),
        })
    }
}

/// Sorts durations for [`quantile`] and [`BoxStats::of_sorted`].
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// The result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of the first sample: how often one of its values exceeds one of the second's (ties
    /// count a half).
    pub u: f64,
    /// The two-sided p-value, from the normal approximation with tie and continuity
    /// corrections (as SciPy's `mannwhitneyu(method="asymptotic")`).
    pub p_value: f64,
}

/// The two-sided Mann-Whitney U test of whether `a` and `b` come from one distribution;
/// `None` when either is empty.
///
/// The normal approximation it uses is good from about 8 values a side; the dashboard's
/// reports compare samples of up to 500.
///
/// ```
/// use fmd_core::stats::mann_whitney;
/// let fast: Vec<f64> = (0..40).map(|i| 10.0 + i as f64 * 0.1).collect();
/// let slow: Vec<f64> = (0..40).map(|i| 12.0 + i as f64 * 0.1).collect();
/// assert!(mann_whitney(&fast, &slow).unwrap().p_value < 0.05);
/// assert!(mann_whitney(&fast, &fast).unwrap().p_value > 0.9);
/// ```
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|v| (*v, true))
        .chain(b.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Ranks from 1, ties sharing their average rank.
    let (mut rank_sum_a, mut ties, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_sum_a += rank * all[i..=j].iter().filter(|(_, from_a)| *from_a).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    if variance <= 0.0 {
        // Every value equal: nothing tells the samples apart.
        return Some(MannWhitney { u, p_value: 1.0 });
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / variance.sqrt();
    Some(MannWhitney {
        u,
        p_value: statrs::function::erf::erfc(z / std::f64::consts::SQRT_2).min(1.0),
    })
}

/// The one-sided p-value that a share rose from `a` of `n_a` to `b` of `n_b` by chance alone:
/// a two-proportion z-test with the pooled share. `None` when a side is empty.
///
/// ```
/// use fmd_core::stats::share_rise_p_value;
/// // From none of 20 requests to all of 20: no chance.
/// assert!(share_rise_p_value(0, 20, 20, 20).unwrap() < 1e-6);
/// // One of 8 against none of 8: could well be chance.
/// assert!(share_rise_p_value(0, 8, 1, 8).unwrap() > 0.1);
/// // A fall is no rise.
/// assert!(share_rise_p_value(5, 10, 0, 10).unwrap() > 0.99);
/// ```
pub fn share_rise_p_value(a: u64, n_a: u64, b: u64, n_b: u64) -> Option<f64> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (n_a, n_b) = (n_a as f64, n_b as f64);
    let (p_a, p_b) = (a as f64 / n_a, b as f64 / n_b);
    let pooled = (a + b) as f64 / (n_a + n_b);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if se == 0.0 {
        // Both sides all or nothing alike: no difference to test.
        return Some(1.0);
    }
    let z = (p_b - p_a) / se;
    Some((statrs::function::erf::erfc(z / std::f64::consts::SQRT_2) / 2.0).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_whitney_matches_scipy() {
        // scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        let a = [1.1, 2.3, 2.3, 3.7, 4.0, 5.2, 6.1, 6.1, 7.9, 8.4];
        let b = [2.3, 4.8, 5.5, 6.1, 7.0, 8.8, 9.1, 9.9, 10.4, 12.0, 13.3];
        let r = mann_whitney(&a, &b).unwrap();
        assert_eq!(r.u, 22.0);
        assert!(
            (r.p_value - 0.021_759_001_358_933_622).abs() < 1e-6,
            "{}",
            r.p_value
        );
        let swapped = mann_whitney(&b, &a).unwrap();
        assert_eq!(swapped.u, a.len() as f64 * b.len() as f64 - r.u);
        assert!((swapped.p_value - r.p_value).abs() < 1e-12);
        // Larger and with many ties.
        let a: Vec<f64> = (0..120).map(|i| f64::from(i * 37 % 101)).collect();
        let b: Vec<f64> = (0..150).map(|i| f64::from(i * 53 % 97 + 4)).collect();
        let r = mann_whitney(&a, &b).unwrap();
        assert_eq!(r.u, 8671.0);
        assert!(
            (r.p_value - 0.606_370_261_155_146_8).abs() < 1e-6,
            "{}",
            r.p_value
        );
    }

    #[test]
    fn degenerate_samples() {
        assert_eq!(mann_whitney(&[], &[1.0]), None);
        assert_eq!(mann_whitney(&[3.0; 5], &[3.0; 7]).unwrap().p_value, 1.0);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[5.0], 0.9), Some(5.0));
        assert_eq!(quantile(&[0.0, 10.0], 0.25), Some(2.5));
        assert_eq!(quantile(&[0.0, 10.0], 7.0), Some(10.0), "clamped");
    }
}
