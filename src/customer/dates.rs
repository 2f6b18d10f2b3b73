//! The calendar of the policies, as their own examples count it:
//!
//! - a period of N months counts its first day and ends the day before the same date N months
//!   later (TianCare+ 5.4: "an X9 delivered on 1 February 2026 … has standard warranty until
//!   31 January 2027"); when that date does not exist (29 February, the 31st), the period ends on
//!   the last day of that month;
//! - a window of N days counts from the day after the event (returns: "7 days from delivery" —
//!   delivered on the 1st, the last day is the 8th).
//!
//! All dates are calendar days in the customer's time zone ([`today_in`]).

use chrono::{Datelike, Months, NaiveDate, TimeDelta};

/// The last day of a period of `months` months starting on `start` (`None` past the calendar).
pub fn months_end(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    let same = start.checked_add_months(Months::new(months))?;
    if same.day() == start.day() {
        same.checked_sub_signed(TimeDelta::days(1))
    } else {
        // the same date does not exist in that month: it ends on the month's last day
        Some(same)
    }
}

/// The last day of a window of `days` days after `event`.
pub fn days_end(event: NaiveDate, days: u32) -> Option<NaiveDate> {
    event.checked_add_signed(TimeDelta::days(i64::from(days)))
}

/// Whole days from `today` to `last` (0 on the last day; negative once passed).
pub fn days_left(today: NaiveDate, last: NaiveDate) -> i64 {
    (last - today).num_days()
}

/// Today's date in the time zone `tz` at the instant `now`.
pub fn today_in(now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn a_period_of_months_ends_the_day_before_the_same_date() {
        // the policy's own example
        assert_eq!(months_end(d("2026-02-01"), 12), Some(d("2027-01-31")));
        assert_eq!(months_end(d("2026-02-01"), 24), Some(d("2028-01-31")));
        assert_eq!(months_end(d("2026-04-04"), 12), Some(d("2027-04-03")));
        // no 29 February next year, no 31 November: the month's last day
        assert_eq!(months_end(d("2024-02-29"), 12), Some(d("2025-02-28")));
        assert_eq!(months_end(d("2024-02-29"), 48), Some(d("2028-02-28")));
        assert_eq!(months_end(d("2026-05-31"), 6), Some(d("2026-11-30")));
        assert_eq!(months_end(d("2026-01-31"), 1), Some(d("2026-02-28")));
        assert_eq!(months_end(d("2026-01-30"), 1), Some(d("2026-02-28")));
        assert_eq!(months_end(d("2026-01-28"), 1), Some(d("2026-02-27")));
    }

    #[test]
    fn a_window_of_days_counts_from_the_day_after() {
        assert_eq!(days_end(d("2026-11-01"), 7), Some(d("2026-11-08")));
        assert_eq!(days_end(d("2026-02-28"), 1), Some(d("2026-03-01")));
        assert_eq!(days_left(d("2026-11-08"), d("2026-11-08")), 0);
        assert_eq!(days_left(d("2026-11-09"), d("2026-11-08")), -1);
        assert_eq!(days_left(d("2026-11-10"), d("2027-04-03")), 144);
    }

    #[test]
    fn today_is_the_customers_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-08T17:30:00Z")
            .expect("an instant")
            .with_timezone(&chrono::Utc);
        assert_eq!(today_in(now, chrono_tz::Asia::Shanghai), d("2026-11-09"));
        assert_eq!(today_in(now, chrono_tz::America::New_York), d("2026-11-08"));
    }
}
