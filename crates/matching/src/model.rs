//! The person model shared by the index, the queries and the CLI.

use std::fmt;

/// A calendar date (proleptic Gregorian), validated on construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A valid date, or `None` for an impossible one (31 February, month 13, ...).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parse an ISO `YYYY-MM-DD` date (surrounding spaces allowed).
    pub fn parse_iso(s: &str) -> Option<Date> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y: i32 = s[0..4].parse().ok()?;
        let m: u8 = s[5..7].parse().ok()?;
        let d: u8 = s[8..10].parse().ok()?;
        if !s[0..4].bytes().all(|c| c.is_ascii_digit())
            || !s[5..7].bytes().all(|c| c.is_ascii_digit())
            || !s[8..10].bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        Date::new(y, m, d)
    }

    /// Parse a date leniently: ISO `YYYY-MM-DD` (the documented format), `YYYY/MM/DD`,
    /// `YYYY.MM.DD`, `YYYYMMDD`, and the UK day-first `DD/MM/YYYY`, `D/M/YYYY`,
    /// `DD-MM-YYYY`, `DD.MM.YYYY`. A time suffix (`T00:00:00`, ` 00:00:00`, `Z`, ...)
    /// is ignored. A day-first date that is impossible but valid month-first
    /// (`03/25/2015`) is read month-first. `None` for anything else or an impossible date.
    pub fn parse_lenient(s: &str) -> Option<Date> {
        let s = s.trim();
        if let Some(d) = Date::parse_iso(s) {
            return Some(d);
        }
        // Drop a time part: everything from a 'T' or a space after the date.
        let date = match s.find(['T', 't', ' ']) {
            Some(i) if i >= 6 => &s[..i],
            _ => s,
        };
        let b = date.as_bytes();
        if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
            let y: i32 = date[0..4].parse().ok()?;
            return Date::new(y, date[4..6].parse().ok()?, date[6..8].parse().ok()?);
        }
        let parts: Vec<&str> = date.split(['-', '/', '.']).collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
        if parts[0].len() == 4 {
            if parts[1].len() > 2 || parts[2].len() > 2 {
                return None;
            }
            return Date::new(n[0] as i32, n[1] as u8, n[2] as u8);
        }
        if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
            let y = n[2] as i32;
            return Date::new(y, n[1] as u8, n[0] as u8)
                .or_else(|| Date::new(y, n[0] as u8, n[1] as u8));
        }
        None
    }

    /// The digits `YYYYMMDD` of a date written in one of the layouts
    /// [`Date::parse_lenient`] reads, without checking that it exists: "1945-04-93" and
    /// "93/04/1945" give 19450493. `None` when the text is not in such a layout.
    pub fn digits_lenient(s: &str) -> Option<u32> {
        let s = s.trim();
        let date = match s.find(['T', 't', ' ']) {
            Some(i) if i >= 6 => &s[..i],
            _ => s,
        };
        let b = date.as_bytes();
        let (y, m, d): (u32, u32, u32) = if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
            (
                date[0..4].parse().ok()?,
                date[4..6].parse().ok()?,
                date[6..8].parse().ok()?,
            )
        } else {
            let parts: Vec<&str> = date.split(['-', '/', '.']).collect();
            if parts.len() != 3
                || parts
                    .iter()
                    .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
            {
                return None;
            }
            let n = |i: usize| parts[i].parse::<u32>().ok();
            if parts[0].len() == 4 && parts[1].len() <= 2 && parts[2].len() <= 2 {
                (n(0)?, n(1)?, n(2)?)
            } else if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
                (n(2)?, n(1)?, n(0)?)
            } else {
                return None;
            }
        };
        ((1000..=9999).contains(&y) && m + d > 0).then_some(y * 10_000 + m * 100 + d)
    }

    pub fn year(&self) -> i32 {
        self.year
    }
    pub fn month(&self) -> u8 {
        self.month
    }
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn day_number(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let m = i64::from(self.month);
        let d = i64::from(self.day);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date for a day number produced by [`Date::day_number`].
    pub fn from_day_number(z: i64) -> Date {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let y = (y + i64::from(m <= 2)) as i32;
        Date {
            year: y,
            month: m,
            day: d,
        }
    }

    /// Packed `YYYYMMDD` integer.
    pub fn packed(&self) -> u32 {
        self.year as u32 * 10_000 + u32::from(self.month) * 100 + u32::from(self.day)
    }

    pub fn from_packed(p: u32) -> Option<Date> {
        Date::new(
            (p / 10_000) as i32,
            ((p / 100) % 100) as u8,
            (p % 100) as u8,
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// `Ok(Some(_))` for a recognised sex, `Ok(None)` for an explicit unknown or empty
    /// value, `Err(())` for something unrecognisable.
    #[allow(clippy::result_unit_err)]
    ///
    /// Accepts any case, with spaces, hyphens and underscores treated alike: M/F,
    /// male/female, boy/girl, the NHS Data Dictionary codes (1 male, 2 female, 0 not
    /// known, 9 not specified), and the portal's codes. Codes that do not state a
    /// recorded sex (non-binary, transgender, indeterminate, gender-dysphoria, unborn,
    /// unknown, ...) are `Ok(None)`: they carry no evidence either way.
    pub fn parse(s: &str) -> Result<Option<Gender>, ()> {
        // The common one-letter codes without building a key.
        match s.trim().as_bytes() {
            [b'M' | b'm' | b'1'] => return Ok(Some(Gender::Male)),
            [b'F' | b'f' | b'2'] => return Ok(Some(Gender::Female)),
            _ => {}
        }
        let k: String = s
            .trim()
            .chars()
            .filter(|&c| c != '.')
            .map(|c| match c {
                '-' | '_' => ' ',
                c => c.to_ascii_lowercase(),
            })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match k.as_str() {
            "m" | "male" | "boy" | "man" | "1" | "mal" => Ok(Some(Gender::Male)),
            "f" | "female" | "girl" | "woman" | "2" | "fem" => Ok(Some(Gender::Female)),
            "" | "u" | "unknown" | "not known" | "not stated" | "not specified" | "x" | "other"
            | "o" | "n/a" | "na" | "n" | "null" | "none" | "indeterminate" | "i" | "0" | "9"
            | "non binary" | "nonbinary" | "nb" | "transgender" | "trans" | "gender dysphoria"
            | "unborn" | "prefer not to say" | "not recorded" => Ok(None),
            _ => Err(()),
        }
    }
}

/// One person record, either in the index or as a query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Person {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Middle names, aliases, previous names.
    pub other_names: Vec<String>,
    pub dob: Option<Date>,
    /// A date of birth that was given but is impossible (e.g. "1945-04-93"), kept as
    /// text when `dob` is `None`: it is compared digit by digit (`YYYYMMDD`).
    pub dob_text: Option<String>,
    /// The date of birth is an estimate (e.g. an unaccompanied child's assessed age).
    pub dob_estimated: bool,
    pub gender: Option<Gender>,
    pub address: Option<String>,
    pub postcode: Option<String>,
}

impl Person {
    pub fn new(id: impl Into<String>) -> Person {
        Person {
            id: id.into(),
            ..Person::default()
        }
    }
    pub fn first(mut self, s: &str) -> Person {
        self.first_name = Some(s.to_string());
        self
    }
    pub fn last(mut self, s: &str) -> Person {
        self.last_name = Some(s.to_string());
        self
    }
    pub fn other(mut self, s: &str) -> Person {
        self.other_names.push(s.to_string());
        self
    }
    /// Set the date of birth from an ISO string; panics on an invalid date (builder for tests and examples).
    pub fn born(mut self, iso: &str) -> Person {
        self.dob = Some(Date::parse_iso(iso).expect("valid ISO date"));
        self
    }
    pub fn estimated(mut self) -> Person {
        self.dob_estimated = true;
        self
    }
    pub fn sex(mut self, g: Gender) -> Person {
        self.gender = Some(g);
        self
    }
    pub fn postcode(mut self, s: &str) -> Person {
        self.postcode = Some(s.to_string());
        self
    }
    pub fn address(mut self, s: &str) -> Person {
        self.address = Some(s.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_date_is_rejected() {
        assert!(Date::parse_iso("2019-02-29").is_none());
        assert!(Date::parse_iso("2020-02-29").is_some());
        assert!(Date::parse_iso("2020-13-01").is_none());
        assert!(Date::parse_iso("2020-1-01").is_none());
        assert!(Date::parse_iso("20x0-01-01").is_none());
    }

    #[test]
    fn day_numbers_round_trip() {
        for iso in ["1970-01-01", "2000-02-29", "2024-12-31", "1900-03-01"] {
            let d = Date::parse_iso(iso).unwrap();
            assert_eq!(Date::from_day_number(d.day_number()), d);
        }
        assert_eq!(Date::parse_iso("1970-01-02").unwrap().day_number(), 1);
    }

    #[test]
    fn lenient_dates_accept_common_layouts_and_time_suffixes() {
        let want = Date::new(2015, 3, 4);
        for s in [
            "2015-03-04",
            " 2015-03-04 ",
            "04/03/2015",
            "4/3/2015",
            "04-03-2015",
            "04.03.2015",
            "2015/03/04",
            "2015/3/4",
            "20150304",
            "2015-03-04T00:00:00",
            "2015-03-04T00:00:00Z",
            "2015-03-04 00:00:00",
            "04/03/2015 00:00",
        ] {
            assert_eq!(Date::parse_lenient(s), want, "{s}");
        }
        // Month-first only when day-first is impossible.
        assert_eq!(Date::parse_lenient("03/25/2015"), Date::new(2015, 3, 25));
        for s in [
            "2015-02-30",
            "30/02/2015",
            "2015",
            "",
            "04/03/15",
            "2015-03",
            "banana",
            "2015-03-04-01",
            "20150230",
            "12345678901",
        ] {
            assert_eq!(Date::parse_lenient(s), None, "{s}");
        }
    }

    #[test]
    fn impossible_dates_keep_their_digits() {
        assert_eq!(Date::digits_lenient("1945-04-93"), Some(19450493));
        assert_eq!(Date::digits_lenient("93/04/1945"), Some(19450493));
        assert_eq!(Date::digits_lenient("19451304"), Some(19451304));
        assert_eq!(Date::digits_lenient("2015-02-30T00:00:00"), Some(20150230));
        for s in ["banana", "", "1945-04", "45-04-93", "00000000"] {
            assert_eq!(Date::digits_lenient(s), None, "{s}");
        }
    }

    #[test]
    fn gender_codes_are_recognised() {
        for s in ["M", "m", "M.", "Male", "MALE", "1", "boy"] {
            assert_eq!(Gender::parse(s), Ok(Some(Gender::Male)), "{s}");
        }
        for s in ["F", "female", "Female", "2", "girl"] {
            assert_eq!(Gender::parse(s), Ok(Some(Gender::Female)), "{s}");
        }
        for s in [
            "U",
            "Unknown",
            "0",
            "9",
            "non-binary",
            "Non Binary",
            "transgender",
            "indeterminate",
            "gender-dysphoria",
            "gender_dysphoria",
            "unborn",
            "",
        ] {
            assert_eq!(Gender::parse(s), Ok(None), "{s}");
        }
        assert!(Gender::parse("3").is_err());
    }

    #[test]
    fn gender_words_are_recognised() {
        assert_eq!(Gender::parse("F"), Ok(Some(Gender::Female)));
        assert_eq!(Gender::parse("boy"), Ok(Some(Gender::Male)));
        assert_eq!(Gender::parse(""), Ok(None));
        assert!(Gender::parse("banana").is_err());
    }
}
