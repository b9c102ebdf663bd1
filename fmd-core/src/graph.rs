//! Custom graphs: a value the application computes on a schedule (users signed up, queue
//! length, ...), stored with its time and drawn on the dashboard's "Custom graphs" page.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// When a custom graph's function runs: once at start, then on this schedule.
///
/// ```
/// use std::time::Duration;
/// use fmd_core::Schedule;
/// let every = Schedule::every(Duration::from_secs(60));
/// assert_eq!(every.to_string(), "every 60 s");
/// let hourly = Schedule::cron("0 0 * * * *").unwrap();
/// let t = "2026-12-02T14:05:00Z".parse().unwrap();
/// assert_eq!(hourly.next_after(t).unwrap().to_rfc3339(), "2026-12-02T15:00:00+00:00");
/// assert!(Schedule::cron("every hour").is_err());
/// ```
#[derive(Clone)]
pub enum Schedule {
    /// At a fixed interval (at least one second).
    Every(Duration),
    /// At the times a cron expression matches, in UTC.
    Cron(Box<cron::Schedule>),
}

/// A cron expression that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the cron expression {expression:?} ({reason}); write six fields, \"sec min hour day month weekday\", e.g. \"0 */5 * * * *\" for every five minutes")]
pub struct ScheduleError {
    /// The expression.
    pub expression: String,
    /// What the parser said.
    pub reason: String,
}

impl Schedule {
    /// Every `interval`; intervals under a second are taken as one second.
    pub fn every(interval: Duration) -> Schedule {
        Schedule::Every(interval.max(Duration::from_secs(1)))
    }

    /// At the times `expression` ("sec min hour day month weekday", optionally a year) matches,
    /// in UTC.
    pub fn cron(expression: &str) -> Result<Schedule, ScheduleError> {
        let error = |reason: String| ScheduleError {
            expression: expression.to_owned(),
            reason,
        };
        let fields = expression.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            return Err(error(format!("it has {fields} fields")));
        }
        cron::Schedule::from_str(expression)
            .map(|s| Schedule::Cron(Box::new(s)))
            .map_err(|e| error(e.to_string()))
    }

    /// The first run strictly after `t`; `None` when the schedule has no more.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => t.checked_add_signed(chrono::Duration::from_std(*d).ok()?),
            Schedule::Cron(s) => s.after(&t).next(),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) if d.subsec_millis() == 0 => write!(f, "every {} s", d.as_secs()),
            Schedule::Every(d) => write!(f, "every {:.1} s", d.as_secs_f64()),
            Schedule::Cron(s) => write!(f, "cron {}", s.source()),
        }
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({self})")
    }
}

/// What a custom graph's function may return: a number, or a `Result` of one whose error is
/// shown on the graph's page.
pub trait GraphValue {
    /// The value to store, or why there is none.
    fn graph_value(self) -> Result<f64, String>;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl GraphValue for $t {
            fn graph_value(self) -> Result<f64, String> {
                let v = self as f64;
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(format!("the value {v} is not a finite number"))
                }
            }
        }
    )*};
}
numbers!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8, usize, isize);

impl<T: GraphValue, E: fmt::Display> GraphValue for Result<T, E> {
    fn graph_value(self) -> Result<f64, String> {
        self.map_err(|e| e.to_string())?.graph_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_step_forward() {
        let t: DateTime<Utc> = "2026-12-02T14:05:30Z".parse().unwrap();
        let every = Schedule::every(Duration::from_millis(10));
        assert_eq!(every.to_string(), "every 1 s", "at least a second");
        assert_eq!((every.next_after(t).unwrap() - t).num_seconds(), 1);
        let cron = Schedule::cron("*/20 * * * * *").unwrap();
        assert_eq!(
            cron.next_after(t).unwrap().to_rfc3339(),
            "2026-12-02T14:05:40+00:00"
        );
        assert_eq!(cron.to_string(), "cron */20 * * * * *");
        for bad in ["* * * * *", "61 * * * * *", "0 0 * * * * * *", ""] {
            let e = Schedule::cron(bad).unwrap_err().to_string();
            assert!(e.contains("sec min hour day month weekday"), "{bad}: {e}");
        }
    }

    #[test]
    fn values_and_errors() {
        assert_eq!(3u32.graph_value(), Ok(3.0));
        assert_eq!(Ok::<_, String>(2.5).graph_value(), Ok(2.5));
        assert_eq!(
            Err::<i64, _>("the database is down").graph_value(),
            Err("the database is down".into())
        );
        assert!(f64::NAN.graph_value().is_err());
    }
}
