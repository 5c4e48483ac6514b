//! Dates typed into the GOV.UK three-field date input: date of birth, due date.
//!
//! Follows the Design System's date input pattern:
//! - leading/trailing spaces are ignored; months may be typed as numbers
//!   ("3", "03") or names ("March", "mar");
//! - error messages: "Enter the child's date of birth", "Date of birth must include
//!   a month", "Date of birth must be a real date", "Year must include 4 numbers",
//!   "Date of birth must be today or in the past", …;
//! - each error says which of the three fields to highlight ([`DateParts`]); the
//!   error summary links to the first of them.

use std::fmt;

use time::{Date, Duration, Month};

/// How far back a child's date of birth may be: care leavers are supported up to 25.
pub const MAX_CHILD_AGE_YEARS: i32 = 25;
/// How far ahead an unborn child's due date may be (about 10 months).
pub const MAX_DUE_DATE_DAYS_AHEAD: i64 = 305;

/// Which of the three inputs an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateParts {
    pub day: bool,
    pub month: bool,
    pub year: bool,
}

impl DateParts {
    pub const ALL: DateParts = DateParts {
        day: true,
        month: true,
        year: true,
    };

    /// The suffix of the first highlighted input's id: "day", "month" or "year".
    pub fn first(&self) -> &'static str {
        if self.day {
            "day"
        } else if self.month {
            "month"
        } else {
            "year"
        }
    }
}

/// Why a typed date was refused. The message depends on what the date is, so it is
/// produced by [`DateError::message`] with the date's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateErrorKind {
    /// All three fields empty.
    Empty,
    /// Some fields empty: lists the missing ones ("a day and month").
    Incomplete,
    /// A field is not a number (or a month name), or the date does not exist (31 February).
    NotReal,
    /// The year is not 4 digits.
    YearNotFourDigits,
    /// A date of birth after today.
    MustBeTodayOrInPast,
    /// A date of birth more than [`MAX_CHILD_AGE_YEARS`] ago.
    TooLongAgo { earliest: Date },
    /// A due date before today.
    MustBeTodayOrInFuture,
    /// A due date more than [`MAX_DUE_DATE_DAYS_AHEAD`] days ahead.
    TooFarAhead { latest: Date },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError {
    pub kind: DateErrorKind,
    /// The inputs to highlight.
    pub parts: DateParts,
}

impl DateError {
    fn new(kind: DateErrorKind, parts: DateParts) -> Self {
        Self { kind, parts }
    }

    /// The message in the Design System's words.
    ///
    /// `subject` names the date ("Date of birth", "Due date"); `empty_message` is
    /// the sentence for an empty date ("Enter the child's date of birth").
    pub fn message(&self, subject: &str, empty_message: &str) -> String {
        match &self.kind {
            DateErrorKind::Empty => empty_message.to_owned(),
            DateErrorKind::Incomplete => {
                let missing: Vec<&str> = [
                    (self.parts.day, "day"),
                    (self.parts.month, "month"),
                    (self.parts.year, "year"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                format!("{subject} must include a {}", join_and(&missing))
            }
            DateErrorKind::NotReal => format!("{subject} must be a real date"),
            DateErrorKind::YearNotFourDigits => "Year must include 4 numbers".to_owned(),
            DateErrorKind::MustBeTodayOrInPast => format!("{subject} must be today or in the past"),
            DateErrorKind::TooLongAgo { earliest } => format!(
                "{subject} must be the same as or after {}",
                format_date(*earliest)
            ),
            DateErrorKind::MustBeTodayOrInFuture => {
                format!("{subject} must be today or in the future")
            }
            DateErrorKind::TooFarAhead { latest } => format!(
                "{subject} must be the same as or before {}",
                format_date(*latest)
            ),
        }
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A date written the GOV.UK way: "14 March 2026".
pub fn format_date(date: Date) -> String {
    format!("{} {} {}", date.day(), date.month(), date.year())
}

fn parse_month(input: &str) -> Option<u8> {
    if let Ok(n) = input.parse::<u8>() {
        return Some(n);
    }
    let lower = input.to_ascii_lowercase();
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    NAMES
        .iter()
        .position(|name| lower == *name || (lower.len() >= 3 && name.starts_with(&lower)))
        .map(|i| i as u8 + 1)
}

/// Parses the three fields into a real calendar date, with no rule about when.
pub fn parse_date_input(day: &str, month: &str, year: &str) -> Result<Date, DateError> {
    let (d, m, y) = (day.trim(), month.trim(), year.trim());
    let missing = DateParts {
        day: d.is_empty(),
        month: m.is_empty(),
        year: y.is_empty(),
    };
    if missing == DateParts::ALL {
        return Err(DateError::new(DateErrorKind::Empty, DateParts::ALL));
    }
    if missing != DateParts::default() {
        return Err(DateError::new(DateErrorKind::Incomplete, missing));
    }
    let day_n = d.parse::<u8>().ok().filter(|n| (1..=31).contains(n));
    let month_n = parse_month(m).and_then(|n| Month::try_from(n).ok());
    let year_digits = y.chars().all(|c| c.is_ascii_digit());
    let bad = DateParts {
        day: day_n.is_none(),
        month: month_n.is_none(),
        year: !year_digits,
    };
    if bad != DateParts::default() {
        return Err(DateError::new(DateErrorKind::NotReal, bad));
    }
    if y.len() != 4 {
        return Err(DateError::new(
            DateErrorKind::YearNotFourDigits,
            DateParts {
                year: true,
                ..DateParts::default()
            },
        ));
    }
    let year_n: i32 = y.parse().expect("four ASCII digits");
    let (Some(day_n), Some(month_n)) = (day_n, month_n) else {
        unreachable!("checked above")
    };
    Date::from_calendar_date(year_n, month_n, day_n)
        .map_err(|_| DateError::new(DateErrorKind::NotReal, DateParts::ALL))
}

/// Serialises a date as "YYYY-MM-DD".
pub(crate) fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    ))
}

/// `date` minus `years` calendar years (29 February becomes 28 February).
fn years_before(date: Date, years: i32) -> Date {
    let year = date.year() - years;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, date.month(), date.day() - 1))
        .expect("28 February exists in every year")
}

/// A child's date of birth: a real date, today or in the past, not more than
/// [`MAX_CHILD_AGE_YEARS`] years ago. `estimated` is the "Is date of birth
/// estimated?" tick box (R-11): the date is still a full, real date, and the
/// matching engine relaxes its rules for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DateOfBirth {
    #[serde(serialize_with = "iso_date")]
    pub date: Date,
    pub estimated: bool,
}

impl DateOfBirth {
    pub fn parse(
        day: &str,
        month: &str,
        year: &str,
        estimated: bool,
        today: Date,
    ) -> Result<Self, DateError> {
        let date = parse_date_input(day, month, year)?;
        if date > today {
            return Err(DateError::new(
                DateErrorKind::MustBeTodayOrInPast,
                DateParts::ALL,
            ));
        }
        let earliest = years_before(today, MAX_CHILD_AGE_YEARS);
        if date < earliest {
            return Err(DateError::new(
                DateErrorKind::TooLongAgo { earliest },
                DateParts::ALL,
            ));
        }
        Ok(Self { date, estimated })
    }

    /// Age in whole years on `today`.
    pub fn age_on(&self, today: Date) -> u32 {
        let mut age = today.year() - self.date.year();
        if (today.month() as u8, today.day()) < (self.date.month() as u8, self.date.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }
}

impl fmt::Display for DateOfBirth {
    /// "14 March 2020", with " (estimated)" when the tick box was ticked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_date(self.date))?;
        if self.estimated {
            f.write_str(" (estimated)")?;
        }
        Ok(())
    }
}

/// A date of birth of an adult in the household ("if known"): a real date in the
/// past; no upper age limit.
pub fn parse_adult_date_of_birth(
    day: &str,
    month: &str,
    year: &str,
    today: Date,
) -> Result<Date, DateError> {
    let date = parse_date_input(day, month, year)?;
    if date > today {
        return Err(DateError::new(
            DateErrorKind::MustBeTodayOrInPast,
            DateParts::ALL,
        ));
    }
    if date.year() < 1900 {
        return Err(DateError::new(DateErrorKind::NotReal, DateParts::ALL));
    }
    Ok(date)
}

/// An unborn child's expected due date: today or later, at most
/// [`MAX_DUE_DATE_DAYS_AHEAD`] days ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UnbornDueDate(#[serde(serialize_with = "iso_date")] Date);

impl UnbornDueDate {
    pub fn parse(day: &str, month: &str, year: &str, today: Date) -> Result<Self, DateError> {
        let date = parse_date_input(day, month, year)?;
        if date < today {
            return Err(DateError::new(
                DateErrorKind::MustBeTodayOrInFuture,
                DateParts::ALL,
            ));
        }
        let latest = today + Duration::days(MAX_DUE_DATE_DAYS_AHEAD);
        if date > latest {
            return Err(DateError::new(
                DateErrorKind::TooFarAhead { latest },
                DateParts::ALL,
            ));
        }
        Ok(Self(date))
    }

    pub fn date(&self) -> Date {
        self.0
    }
}

impl fmt::Display for UnbornDueDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_date(self.0))
    }
}

/// Whether the child is born. An unborn child always has a due date, a born
/// child always has a date of birth: neither can be missing once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BirthStatus {
    Born { dob: DateOfBirth },
    Unborn { due_date: UnbornDueDate },
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 14);

    fn dob(d: &str, m: &str, y: &str) -> Result<DateOfBirth, DateError> {
        DateOfBirth::parse(d, m, y, false, TODAY)
    }

    fn msg(e: DateError) -> String {
        e.message("Date of birth", "Enter the child's date of birth")
    }

    #[test]
    fn a_real_past_date_is_accepted() {
        let d = dob("3", "7", "2015").unwrap();
        assert_eq!(d.date, date!(2015 - 07 - 03));
        assert!(!d.estimated);
        assert_eq!(d.to_string(), "3 July 2015");
    }

    #[test]
    fn leading_zeros_and_spaces_are_accepted() {
        assert_eq!(
            dob(" 03 ", "07", " 2015").unwrap().date,
            date!(2015 - 07 - 03)
        );
    }

    #[test]
    fn month_names_are_accepted() {
        assert_eq!(
            dob("3", "July", "2015").unwrap().date,
            date!(2015 - 07 - 03)
        );
        assert_eq!(dob("3", "jul", "2015").unwrap().date, date!(2015 - 07 - 03));
        assert_eq!(
            dob("3", "SEPT", "2015").unwrap().date,
            date!(2015 - 09 - 03)
        );
        assert!(dob("3", "ju", "2015").is_err());
    }

    #[test]
    fn an_estimated_date_of_birth_is_accepted_and_shown_as_estimated() {
        let d = DateOfBirth::parse("1", "1", "2019", true, TODAY).unwrap();
        assert!(d.estimated);
        assert_eq!(d.to_string(), "1 January 2019 (estimated)");
    }

    #[test]
    fn all_fields_empty_asks_for_the_date() {
        let e = dob("", " ", "").unwrap_err();
        assert_eq!(e.parts, DateParts::ALL);
        assert_eq!(msg(e), "Enter the child's date of birth");
    }

    #[test]
    fn a_missing_month_is_named_and_highlighted() {
        let e = dob("3", "", "2015").unwrap_err();
        assert_eq!(
            e.parts,
            DateParts {
                month: true,
                ..Default::default()
            }
        );
        assert_eq!(e.parts.first(), "month");
        assert_eq!(msg(e), "Date of birth must include a month");
    }

    #[test]
    fn two_missing_fields_are_both_named() {
        let e = dob("", "", "2015").unwrap_err();
        assert_eq!(msg(e.clone()), "Date of birth must include a day and month");
        assert_eq!(e.parts.first(), "day");
        assert_eq!(
            msg(dob("3", "", "").unwrap_err()),
            "Date of birth must include a month and year"
        );
    }

    #[test]
    fn the_31st_of_february_is_not_a_real_date() {
        let e = dob("31", "2", "2020").unwrap_err();
        assert_eq!(e.kind, DateErrorKind::NotReal);
        assert_eq!(msg(e), "Date of birth must be a real date");
    }

    #[test]
    fn the_29th_of_february_is_real_only_in_leap_years() {
        assert!(dob("29", "2", "2020").is_ok());
        assert_eq!(
            dob("29", "2", "2021").unwrap_err().kind,
            DateErrorKind::NotReal
        );
    }

    #[test]
    fn month_13_is_not_a_real_date_and_the_month_is_highlighted() {
        let e = dob("1", "13", "2020").unwrap_err();
        assert_eq!(e.kind, DateErrorKind::NotReal);
        assert_eq!(e.parts.first(), "month");
        assert!(!e.parts.day && !e.parts.year);
    }

    #[test]
    fn day_0_and_day_32_are_not_real() {
        assert_eq!(
            dob("0", "1", "2020").unwrap_err().kind,
            DateErrorKind::NotReal
        );
        assert_eq!(
            dob("32", "1", "2020").unwrap_err().kind,
            DateErrorKind::NotReal
        );
    }

    #[test]
    fn letters_in_a_number_field_are_not_real() {
        let e = dob("3rd", "1", "20x0").unwrap_err();
        assert_eq!(e.kind, DateErrorKind::NotReal);
        assert!(e.parts.day && e.parts.year && !e.parts.month);
    }

    #[test]
    fn a_two_digit_year_is_refused() {
        let e = dob("3", "7", "15").unwrap_err();
        assert_eq!(e.kind, DateErrorKind::YearNotFourDigits);
        assert_eq!(e.parts.first(), "year");
        assert_eq!(msg(e), "Year must include 4 numbers");
    }

    #[test]
    fn a_date_of_birth_in_the_future_is_refused() {
        let e = dob("15", "3", "2026").unwrap_err();
        assert_eq!(msg(e), "Date of birth must be today or in the past");
    }

    #[test]
    fn a_baby_born_today_is_accepted() {
        assert!(dob("14", "3", "2026").is_ok());
    }

    #[test]
    fn a_date_of_birth_more_than_25_years_ago_is_refused() {
        assert!(dob("14", "3", "2001").is_ok());
        let e = dob("13", "3", "2001").unwrap_err();
        assert_eq!(
            msg(e),
            "Date of birth must be the same as or after 14 March 2001"
        );
    }

    #[test]
    fn age_is_counted_in_whole_years() {
        assert_eq!(dob("14", "3", "2016").unwrap().age_on(TODAY), 10);
        assert_eq!(dob("15", "3", "2016").unwrap().age_on(TODAY), 9);
        assert_eq!(dob("14", "3", "2026").unwrap().age_on(TODAY), 0);
    }

    #[test]
    fn a_due_date_today_or_ahead_is_accepted() {
        assert!(UnbornDueDate::parse("14", "3", "2026", TODAY).is_ok());
        let d = UnbornDueDate::parse("1", "9", "2026", TODAY).unwrap();
        assert_eq!(d.to_string(), "1 September 2026");
    }

    #[test]
    fn a_due_date_in_the_past_is_refused() {
        let e = UnbornDueDate::parse("13", "3", "2026", TODAY).unwrap_err();
        assert_eq!(
            e.message("Due date", "Enter the due date"),
            "Due date must be today or in the future"
        );
    }

    #[test]
    fn a_due_date_more_than_10_months_ahead_is_refused() {
        let latest = TODAY + Duration::days(MAX_DUE_DATE_DAYS_AHEAD);
        assert!(
            UnbornDueDate::parse(
                &latest.day().to_string(),
                &(latest.month() as u8).to_string(),
                &latest.year().to_string(),
                TODAY
            )
            .is_ok()
        );
        let e = UnbornDueDate::parse("1", "3", "2027", TODAY).unwrap_err();
        assert!(matches!(e.kind, DateErrorKind::TooFarAhead { .. }));
        assert!(
            e.message("Due date", "Enter the due date")
                .starts_with("Due date must be the same as or before ")
        );
    }

    #[test]
    fn an_empty_due_date_is_refused() {
        let e = UnbornDueDate::parse("", "", "", TODAY).unwrap_err();
        assert_eq!(
            e.message("Due date", "Enter the expected due date"),
            "Enter the expected due date"
        );
    }

    #[test]
    fn an_adult_date_of_birth_has_no_upper_age_limit_but_must_be_past() {
        assert!(parse_adult_date_of_birth("1", "1", "1950", TODAY).is_ok());
        assert!(parse_adult_date_of_birth("1", "1", "2030", TODAY).is_err());
        assert!(parse_adult_date_of_birth("1", "1", "1066", TODAY).is_err());
    }

    #[test]
    fn the_25_year_limit_handles_a_29_february_today() {
        let leap_today = date!(2028 - 02 - 29);
        let earliest = years_before(leap_today, 25);
        assert_eq!(earliest, date!(2003 - 02 - 28));
    }
}
