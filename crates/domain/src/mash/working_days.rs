//! Working days and the decision target.
//!
//! **Working day**: Monday to Friday, not a bank holiday in England and Wales, in UK local
//! time (Europe/London: GMT in winter, BST from 01:00 UTC on the last Sunday of March to
//! 01:00 UTC on the last Sunday of October). The bank holidays for 2018–2035 ship as data
//! (`data/bank-holidays-england-and-wales.csv`); years outside it use the regular rules.
//!
//! **Decision due** ([`Calendar::decision_due`]): the clock runs only on working days,
//! whole days of local time. A referral received on a working day is due at the same local
//! time `target` working days later (received Friday 15:00, one-day target: due Monday
//! 15:00). One received on a weekend or a bank holiday starts the clock at the beginning of
//! the next working day, so it is due at the end of that working day for a one-day target
//! (received Saturday: due by the end of Monday, i.e. Tuesday 00:00 local).
//!
//! **Waiting state** ([`Calendar::waiting_state`]): *overdue* from the due time; *due soon*
//! in the last quarter of the target, counted in working time (the last 6 working hours of
//! a one-day target, so a referral due on Monday 15:00 is not "due soon" over the weekend
//! but from Monday 09:00); otherwise *on time*.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// The shipped bank holidays (date,name; `#` comments).
const ENGLAND_AND_WALES: &str = include_str!("../../data/bank-holidays-england-and-wales.csv");

static CALENDAR: LazyLock<Calendar> = LazyLock::new(|| {
    Calendar::from_csv(ENGLAND_AND_WALES).expect("the shipped bank holiday data is valid")
});

/// Bank holidays plus the working-day rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeMap<Date, String>,
    first_year: i32,
    last_year: i32,
}

/// How a referral waiting for a decision stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitingState {
    OnTime,
    DueSoon,
    Overdue,
}

impl WaitingState {
    pub fn label(self) -> &'static str {
        match self {
            WaitingState::OnTime => "On time",
            WaitingState::DueSoon => "Due soon",
            WaitingState::Overdue => "Overdue",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            WaitingState::OnTime => "on-time",
            WaitingState::DueSoon => "due-soon",
            WaitingState::Overdue => "overdue",
        }
    }
}

const DAY: Duration = Duration::DAY;

impl Calendar {
    /// England and Wales, from the shipped data.
    pub fn england_and_wales() -> &'static Calendar {
        &CALENDAR
    }

    /// Reads `date,name` lines (`#` comments and a `date,name` header allowed).
    pub fn from_csv(text: &str) -> Result<Calendar, String> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let mut holidays = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line == "date,name" {
                continue;
            }
            let (date, name) = line
                .split_once(',')
                .ok_or_else(|| format!("line {}: expected date,name", n + 1))?;
            let date =
                Date::parse(date.trim(), &format).map_err(|e| format!("line {}: {e}", n + 1))?;
            holidays.insert(date, name.trim().to_owned());
        }
        let first_year = holidays.keys().next().map_or(0, |d| d.year());
        let last_year = holidays.keys().next_back().map_or(-1, |d| d.year());
        Ok(Calendar {
            holidays,
            first_year,
            last_year,
        })
    }

    /// The years the data covers (outside them the regular rules apply).
    pub fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.first_year..=self.last_year
    }

    /// The shipped bank holidays, in date order.
    pub fn holidays(&self) -> impl Iterator<Item = (Date, &str)> {
        self.holidays.iter().map(|(d, n)| (*d, n.as_str()))
    }

    pub fn is_bank_holiday(&self, date: Date) -> bool {
        if self.years().contains(&date.year()) {
            self.holidays.contains_key(&date)
        } else {
            regular_bank_holidays(date.year()).contains(&date)
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.is_bank_holiday(date)
    }

    /// The first working day after `date`.
    pub fn next_working_day(&self, date: Date) -> Date {
        let mut d = date;
        loop {
            d = d.next_day().expect("dates stay in range");
            if self.is_working_day(d) {
                return d;
            }
        }
    }

    /// When a decision is due for a referral received at `received` (see the module docs).
    pub fn decision_due(
        &self,
        received: OffsetDateTime,
        target_working_days: u32,
    ) -> OffsetDateTime {
        let local = to_london(received);
        let (mut date, time) = if self.is_working_day(local.date()) {
            (local.date(), local.time())
        } else {
            (self.next_working_day(local.date()), Time::MIDNIGHT)
        };
        for _ in 0..target_working_days {
            date = self.next_working_day(date);
        }
        london_to_utc(date, time)
    }

    /// Working time between two instants: only the parts that fall on working days (local
    /// time) count. Zero when `to` is not after `from`.
    pub fn working_time_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Duration {
        if to <= from {
            return Duration::ZERO;
        }
        // Only the first and last days can be partial. A whole working day is always 24
        // hours long: UK clocks change on Sundays, never on a working day (tested below), so
        // the days between need no time-zone arithmetic (it cost ~1 µs a day, and a tray
        // page of referrals waiting for months adds up).
        let first = to_london(from).date();
        let last = to_london(to).date();
        let part = |date: Date| -> Duration {
            if !self.is_working_day(date) {
                return Duration::ZERO;
            }
            let start = london_midnight(date).max(from);
            let end = london_midnight(date.next_day().expect("in range")).min(to);
            if end > start {
                end - start
            } else {
                Duration::ZERO
            }
        };
        let mut total = part(first);
        if last > first {
            total += part(last);
            let between = self.working_days_in(first.next_day().expect("in range"), last);
            total += DAY * i32::try_from(between).unwrap_or(i32::MAX);
        }
        total
    }

    /// How many working days there are from `from` up to but not including `to`: weekdays
    /// counted by whole weeks, less the bank holidays among them (a tray page of referrals
    /// waiting for months asks this for every row).
    fn working_days_in(&self, from: Date, to: Date) -> i64 {
        if to <= from {
            return 0;
        }
        let days = (to - from).whole_days();
        let mut weekdays = days / 7 * 5;
        let mut d = from + Duration::days(days / 7 * 7);
        while d < to {
            if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
                weekdays += 1;
            }
            d = d.next_day().expect("in range");
        }
        let in_range = |d: &Date| {
            *d >= from && *d < to && !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
        };
        let mut holidays = 0;
        for year in from.year()..=to.year() {
            holidays += if self.years().contains(&year) {
                let start = Date::from_calendar_date(year, Month::January, 1).expect("in range");
                let end = Date::from_calendar_date(year + 1, Month::January, 1).expect("in range");
                self.holidays
                    .range(start.max(from)..end.min(to))
                    .filter(|(d, _)| in_range(d))
                    .count()
            } else {
                regular_bank_holidays(year)
                    .iter()
                    .filter(|d| in_range(d))
                    .count()
            } as i64;
        }
        weekdays - holidays
    }

    /// Where a referral received at `received` stands at `now` against a target of
    /// `target_working_days` (see the module docs for "due soon").
    pub fn waiting_state(
        &self,
        received: OffsetDateTime,
        now: OffsetDateTime,
        target_working_days: u32,
    ) -> WaitingState {
        let due = self.decision_due(received, target_working_days);
        if now >= due {
            return WaitingState::Overdue;
        }
        let remaining = self.working_time_between(now, due);
        if remaining * 4 <= DAY * target_working_days {
            WaitingState::DueSoon
        } else {
            WaitingState::OnTime
        }
    }
}

/// The last Sunday of a month.
fn last_sunday(year: i32, month: Month) -> Date {
    let mut d = Date::from_calendar_date(year, month, time::util::days_in_month(month, year))
        .expect("valid date");
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day().expect("in range");
    }
    d
}

/// UK local time's offset from UTC at `instant`: +1 hour (BST) from 01:00 UTC on the last
/// Sunday of March until 01:00 UTC on the last Sunday of October, otherwise 0 (GMT).
pub fn london_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let one_am = Time::from_hms(1, 0, 0).expect("valid time");
    let starts = PrimitiveDateTime::new(last_sunday(year, Month::March), one_am).assume_utc();
    let ends = PrimitiveDateTime::new(last_sunday(year, Month::October), one_am).assume_utc();
    if utc >= starts && utc < ends {
        UtcOffset::from_hms(1, 0, 0).expect("valid offset")
    } else {
        UtcOffset::UTC
    }
}

/// `instant` in UK local time.
pub fn to_london(instant: OffsetDateTime) -> OffsetDateTime {
    instant.to_offset(london_offset(instant))
}

/// The instant of `time` on `date` in UK local time. Clocks change at 01:00 UTC on
/// Sundays, so local midnight always exists; a time in the skipped or repeated hour of a
/// change (never a working time) resolves to the offset before the change.
pub fn london_to_utc(date: Date, time: Time) -> OffsetDateTime {
    let naive = PrimitiveDateTime::new(date, time).assume_utc();
    let guess = naive - Duration::hours(1);
    let offset = london_offset(guess);
    (naive - Duration::seconds(i64::from(offset.whole_seconds()))).to_offset(UtcOffset::UTC)
}

/// The instant local `date` begins.
pub fn london_midnight(date: Date) -> OffsetDateTime {
    london_to_utc(date, Time::MIDNIGHT)
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm.
pub fn easter_sunday(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::from_calendar_date(
        year,
        Month::try_from(month as u8).expect("3 or 4"),
        day as u8,
    )
    .expect("valid Easter date")
}

/// The regular bank holidays of a year in England and Wales (without one-off changes),
/// with substitute days for those falling on a weekend.
pub fn regular_bank_holidays(year: i32) -> Vec<Date> {
    let date = |m: Month, d: u8| Date::from_calendar_date(year, m, d).expect("valid date");
    let first_monday = |m: Month| {
        let mut d = date(m, 1);
        while d.weekday() != Weekday::Monday {
            d = d.next_day().expect("in range");
        }
        d
    };
    let last_monday = |m: Month| {
        let mut d = date(m, time::util::days_in_month(m, year));
        while d.weekday() != Weekday::Monday {
            d = d.previous_day().expect("in range");
        }
        d
    };
    let weekend = |d: Date| matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday);
    let mut out = Vec::new();
    let new_year = date(Month::January, 1);
    out.push(match new_year.weekday() {
        Weekday::Saturday => date(Month::January, 3),
        Weekday::Sunday => date(Month::January, 2),
        _ => new_year,
    });
    let easter = easter_sunday(year);
    out.push(easter - Duration::days(2));
    out.push(easter + Duration::days(1));
    out.push(first_monday(Month::May));
    out.push(last_monday(Month::May));
    out.push(last_monday(Month::August));
    // Christmas Day then Boxing Day: each takes the next weekday not already taken.
    for d in [date(Month::December, 25), date(Month::December, 26)] {
        let mut day = d;
        while weekend(day) || out.contains(&day) {
            day = day.next_day().expect("in range");
        }
        out.push(day);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn cal() -> &'static Calendar {
        Calendar::england_and_wales()
    }

    #[test]
    fn the_data_covers_2018_to_2035() {
        assert_eq!(cal().years(), 2018..=2035);
        for year in 2018..=2035 {
            let n = cal().holidays().filter(|(d, _)| d.year() == year).count();
            assert!((8..=10).contains(&n), "{year}: {n} holidays");
        }
    }

    #[test]
    fn known_one_off_dates_are_in_the_data() {
        for d in [
            date!(2020 - 05 - 08),
            date!(2022 - 06 - 02),
            date!(2022 - 06 - 03),
            date!(2022 - 09 - 19),
            date!(2023 - 05 - 08),
        ] {
            assert!(cal().is_bank_holiday(d), "{d}");
        }
        assert!(
            !cal().is_bank_holiday(date!(2020 - 05 - 04)),
            "moved to 8 May"
        );
        assert!(
            !cal().is_bank_holiday(date!(2022 - 05 - 30)),
            "moved to 2 June"
        );
        assert!(cal().is_bank_holiday(date!(2023 - 05 - 01)), "kept in 2023");
    }

    #[test]
    fn known_substitute_days_are_in_the_data() {
        for d in [
            date!(2020 - 12 - 28),
            date!(2021 - 12 - 27),
            date!(2021 - 12 - 28),
            date!(2022 - 01 - 03),
            date!(2022 - 12 - 27),
            date!(2023 - 01 - 02),
            date!(2026 - 12 - 28),
            date!(2027 - 12 - 27),
            date!(2027 - 12 - 28),
        ] {
            assert!(cal().is_bank_holiday(d), "{d}");
        }
    }

    #[test]
    fn the_data_agrees_with_the_rules_apart_from_the_announced_changes() {
        for year in 2018..=2035 {
            let mut expected = regular_bank_holidays(year);
            match year {
                2020 => {
                    expected.retain(|d| *d != date!(2020 - 05 - 04));
                    expected.push(date!(2020 - 05 - 08));
                }
                2022 => {
                    expected.retain(|d| *d != date!(2022 - 05 - 30));
                    expected.extend([
                        date!(2022 - 06 - 02),
                        date!(2022 - 06 - 03),
                        date!(2022 - 09 - 19),
                    ]);
                }
                2023 => expected.push(date!(2023 - 05 - 08)),
                _ => {}
            }
            expected.sort();
            let shipped: Vec<Date> = cal()
                .holidays()
                .map(|(d, _)| d)
                .filter(|d| d.year() == year)
                .collect();
            assert_eq!(shipped, expected, "{year}");
        }
    }

    #[test]
    fn every_bank_holiday_is_a_weekday() {
        for (d, name) in cal().holidays() {
            assert!(
                !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{d} {name}"
            );
        }
    }

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(easter_sunday(2019), date!(2019 - 04 - 21));
        assert_eq!(easter_sunday(2024), date!(2024 - 03 - 31));
        assert_eq!(easter_sunday(2026), date!(2026 - 04 - 05));
        assert_eq!(easter_sunday(2035), date!(2035 - 03 - 25));
    }

    #[test]
    fn years_outside_the_data_use_the_rules() {
        assert!(cal().is_bank_holiday(date!(2036 - 12 - 25)));
        assert!(cal().is_bank_holiday(date!(2017 - 12 - 26)));
        assert!(
            !cal().is_working_day(date!(2040 - 01 - 02)),
            "New Year substitute"
        );
    }

    #[test]
    fn bst_starts_and_ends_at_one_in_the_morning_utc_on_the_last_sundays() {
        let hour = UtcOffset::from_hms(1, 0, 0).unwrap();
        assert_eq!(
            london_offset(datetime!(2026-03-29 00:59:59 UTC)),
            UtcOffset::UTC
        );
        assert_eq!(london_offset(datetime!(2026-03-29 01:00:00 UTC)), hour);
        assert_eq!(london_offset(datetime!(2026-10-25 00:59:59 UTC)), hour);
        assert_eq!(
            london_offset(datetime!(2026-10-25 01:00:00 UTC)),
            UtcOffset::UTC
        );
        assert_eq!(london_offset(datetime!(2026-07-01 12:00 UTC)), hour);
        assert_eq!(
            london_offset(datetime!(2026-01-15 12:00 UTC)),
            UtcOffset::UTC
        );
    }

    #[test]
    fn local_midnight_is_an_hour_earlier_in_utc_during_bst() {
        assert_eq!(
            london_midnight(date!(2026 - 07 - 01)),
            datetime!(2026-06-30 23:00 UTC)
        );
        assert_eq!(
            london_midnight(date!(2026 - 01 - 15)),
            datetime!(2026-01-15 00:00 UTC)
        );
        assert_eq!(
            london_midnight(date!(2026 - 03 - 30)),
            datetime!(2026-03-29 23:00 UTC)
        );
        assert_eq!(
            london_midnight(date!(2026 - 10 - 26)),
            datetime!(2026-10-26 00:00 UTC)
        );
    }

    #[test]
    fn received_on_a_weekday_is_due_the_next_working_day_at_the_same_time() {
        // Tuesday 10 November 2026, 14:30 GMT.
        let due = cal().decision_due(datetime!(2026-11-10 14:30 UTC), 1);
        assert_eq!(due, datetime!(2026-11-11 14:30 UTC));
        let due = cal().decision_due(datetime!(2026-11-10 14:30 UTC), 3);
        assert_eq!(due, datetime!(2026-11-13 14:30 UTC));
    }

    #[test]
    fn received_on_friday_is_due_on_monday() {
        let due = cal().decision_due(datetime!(2026-11-13 15:00 UTC), 1);
        assert_eq!(due, datetime!(2026-11-16 15:00 UTC));
    }

    #[test]
    fn received_at_the_weekend_is_due_at_the_end_of_monday() {
        let due = cal().decision_due(datetime!(2026-11-14 10:00 UTC), 1);
        assert_eq!(due, datetime!(2026-11-17 00:00 UTC));
    }

    #[test]
    fn bank_holidays_are_skipped() {
        // Thursday before Easter 2026 (Good Friday 3 April, Easter Monday 6 April), BST.
        let due = cal().decision_due(datetime!(2026-04-02 09:00 UTC), 1);
        assert_eq!(due, datetime!(2026-04-07 09:00 UTC));
        // Received on Good Friday: the clock starts on Tuesday.
        let due = cal().decision_due(datetime!(2026-04-03 11:00 UTC), 1);
        assert_eq!(to_london(due).date(), date!(2026 - 04 - 08));
        assert_eq!(to_london(due).time(), Time::MIDNIGHT);
    }

    #[test]
    fn christmas_and_its_substitute_day_are_skipped() {
        // Christmas Eve 2026 is a Thursday; 25 and 28 December are bank holidays.
        let due = cal().decision_due(datetime!(2026-12-24 16:00 UTC), 1);
        assert_eq!(due, datetime!(2026-12-29 16:00 UTC));
    }

    #[test]
    fn the_due_time_keeps_the_local_clock_time_across_the_autumn_change() {
        // Friday 23 October 2026 12:00 BST (11:00 UTC); clocks go back on Sunday 25th.
        let due = cal().decision_due(datetime!(2026-10-23 11:00 UTC), 1);
        assert_eq!(due, datetime!(2026-10-26 12:00 UTC), "Monday 12:00 GMT");
        assert_eq!(to_london(due).time(), Time::from_hms(12, 0, 0).unwrap());
    }

    #[test]
    fn the_due_time_keeps_the_local_clock_time_across_the_spring_change() {
        // Friday 27 March 2026 12:00 GMT; clocks go forward on Sunday 29th.
        let due = cal().decision_due(datetime!(2026-03-27 12:00 UTC), 1);
        assert_eq!(due, datetime!(2026-03-30 11:00 UTC), "Monday 12:00 BST");
    }

    #[test]
    fn a_zero_target_is_due_at_once() {
        let t = datetime!(2026-11-10 14:30 UTC);
        assert_eq!(cal().decision_due(t, 0), t);
        assert_eq!(cal().waiting_state(t, t, 0), WaitingState::Overdue);
    }

    #[test]
    fn working_time_leaves_out_weekends_and_bank_holidays() {
        let c = cal();
        // Friday 15:00 to Monday 15:00 is one working day.
        assert_eq!(
            c.working_time_between(
                datetime!(2026-11-13 15:00 UTC),
                datetime!(2026-11-16 15:00 UTC)
            ),
            Duration::DAY
        );
        // Across Christmas 2026: 24th 16:00 → 29th 16:00.
        assert_eq!(
            c.working_time_between(
                datetime!(2026-12-24 16:00 UTC),
                datetime!(2026-12-29 16:00 UTC)
            ),
            Duration::DAY
        );
        assert_eq!(
            c.working_time_between(
                datetime!(2026-11-16 15:00 UTC),
                datetime!(2026-11-13 15:00 UTC)
            ),
            Duration::ZERO
        );
    }

    #[test]
    fn a_working_day_is_always_24_hours_long() {
        // working_time_between counts whole working days as 24 hours: true only while UK
        // clocks change on a Sunday.
        let c = cal();
        let mut d = Date::from_calendar_date(2000, Month::January, 1).unwrap();
        let end = Date::from_calendar_date(2100, Month::January, 1).unwrap();
        while d < end {
            if c.is_working_day(d) {
                assert_eq!(
                    london_midnight(d.next_day().unwrap()) - london_midnight(d),
                    DAY,
                    "{d}"
                );
            }
            d = d.next_day().unwrap();
        }
    }

    #[test]
    fn working_time_over_months_matches_day_by_day_sums() {
        let c = cal();
        // Every weekday start and span length mod 7, around bank holidays, across the
        // clock changes and across the edges of the shipped data (2018 and 2035).
        let starts = [
            datetime!(2025-03-14 16:30 UTC),
            datetime!(2025-12-22 09:00 UTC),
            datetime!(2026-04-01 23:30 UTC),
            datetime!(2017-12-20 12:00 UTC),
            datetime!(2035-11-30 07:15 UTC),
        ];
        let spans = [0i64, 1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 45, 200, 400, 800];
        for (from, days) in starts
            .iter()
            .flat_map(|f| (0..7).map(move |k| *f + Duration::days(k)))
            .flat_map(|f| spans.iter().map(move |d| (f, *d)))
        {
            let to = from + Duration::days(days) + Duration::minutes(7 * days);
            let mut slow = Duration::ZERO;
            let mut date = to_london(from).date();
            while date <= to_london(to).date() {
                if c.is_working_day(date) {
                    let start = london_midnight(date).max(from);
                    let end = london_midnight(date.next_day().unwrap()).min(to);
                    if end > start {
                        slow += end - start;
                    }
                }
                date = date.next_day().unwrap();
            }
            assert_eq!(
                c.working_time_between(from, to),
                slow,
                "{days} days from {from}"
            );
        }
    }

    #[test]
    fn waiting_state_is_on_time_then_due_soon_in_the_last_quarter_then_overdue() {
        let c = cal();
        let received = datetime!(2026-11-10 14:00 UTC);
        assert_eq!(c.waiting_state(received, received, 1), WaitingState::OnTime);
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-11 07:59 UTC), 1),
            WaitingState::OnTime
        );
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-11 08:00 UTC), 1),
            WaitingState::DueSoon
        );
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-11 13:59 UTC), 1),
            WaitingState::DueSoon
        );
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-11 14:00 UTC), 1),
            WaitingState::Overdue
        );
    }

    #[test]
    fn a_referral_due_on_monday_is_not_due_soon_over_the_weekend() {
        let c = cal();
        let received = datetime!(2026-11-13 15:00 UTC);
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-15 23:00 UTC), 1),
            WaitingState::OnTime
        );
        assert_eq!(
            c.waiting_state(received, datetime!(2026-11-16 09:00 UTC), 1),
            WaitingState::DueSoon
        );
    }

    #[test]
    fn calendar_data_with_a_bad_line_is_refused_naming_the_line() {
        let e = Calendar::from_csv("date,name\n2026-13-01,Nope\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }
}
