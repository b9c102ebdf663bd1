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
}

impl BoxStats {
    /// The summary of sorted values; `None` for no values.
    ///
    /// ```
    /// use fmd_core::stats::BoxStats;
    /// let b = BoxStats::of_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    /// assert_eq!((b.count, b.min_ms, b.q1_ms, b.median_ms, b.q3_ms, b.max_ms), (5, 1.0, 2.0, 3.0, 4.0, 5.0));
    /// ```
    pub fn of_sorted(sorted: &[f64]) -> Option<BoxStats> {
        Self::from_quantiles(sorted.len() as u64, |q| quantile(sorted, q))
    }

    /// The summary of `count` values whose quantiles `at` gives (in milliseconds).
    pub fn from_quantiles(count: u64, at: impl Fn(f64) -> Option<f64>) -> Option<BoxStats> {
        if count == 0 {
            return None;
        }
        Some(BoxStats {
            count,
            min_ms: at(0.0)?,
            q1_ms: at(0.25)?,
            median_ms: at(0.5)?,
            q3_ms: at(0.75)?,
            max_ms: at(1.0)?,
        })
    }
}

/// Sorts durations for [`quantile`] and [`BoxStats::of_sorted`].
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}
