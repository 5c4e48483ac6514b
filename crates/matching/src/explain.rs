//! Explanations for staff: each field comparison in plain English, and the same
//! structure as JSON (what `ehm match --explain` prints and the work tray shows).

use crate::compare::{FIELD_NAMES, NF, Side};
use crate::index::{Candidate, FieldComparison};

/// Weights closer to zero than this (in bits) read as "no evidence either way".
const NEUTRAL_BITS: f64 = 0.05;

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c == ' ';
    }
    out
}

/// The display values of one side of a comparison, per field.
pub(crate) fn side_values(s: &Side<'_>) -> [Option<String>; NF] {
    let name = |n: Option<&crate::compare::NameInfo>| {
        n.map(|n| title(n.multi.as_deref().unwrap_or(&n.compact)))
    };
    [
        name(s.first),
        name(s.last),
        s.dob
            .map(|d| d.to_string())
            .or_else(|| s.dob_raw.map(|t| format!("{t:08} (not a valid date)"))),
        s.gender.map(|g| format!("{g:?}").to_lowercase()),
        s.postcode.map(|p| p.trim_start_matches('#').to_string()),
        s.address.map(|a| title(&a.text)),
    ]
}

/// Fill in the compared values of the field rows of an explanation. When the names
/// were compared swapped, the forename row shows the query's forename against the
/// record's surname and the other way round.
pub(crate) fn fill_values(
    rows: &mut [FieldComparison],
    q: &[Option<String>; NF],
    record: &Side<'_>,
) {
    let r = side_values(record);
    let swapped = rows.iter().any(|e| e.field == "name_order");
    for e in rows.iter_mut() {
        if let Some(f) = FIELD_NAMES.iter().position(|&n| n == e.field) {
            let rf = match (swapped, f) {
                (true, 0) => 1,
                (true, 1) => 0,
                _ => f,
            };
            if let (Some(a), Some(b)) = (&q[f], &r[rf]) {
                e.values = Some((a.clone(), b.clone()));
            }
        }
    }
}

impl FieldComparison {
    /// A short label for staff ("First name", "Date of birth", ...).
    pub fn label(&self) -> &'static str {
        match self.field {
            "prior" => "Starting odds",
            "forename" => "First name",
            "surname" => "Surname",
            "dob" => "Date of birth",
            "gender" => "Sex",
            "postcode" => "Postcode",
            "address" => "Address",
            "name_order" => "Name order",
            "sibling_guard" => "Sibling guard",
            "competing_candidates" => "Other records",
            _ => "Other",
        }
    }

    /// What the comparison found, without the verdict.
    fn finding(&self) -> String {
        let v = |sep: &str| {
            self.values
                .as_ref()
                .map(|(a, b)| {
                    if a == b {
                        format!(" ({a})")
                    } else {
                        format!(" ({a}{sep}{b})")
                    }
                })
                .unwrap_or_default()
        };
        let pair = v(" / ");
        match (self.field, self.level) {
            ("prior", _) => "before any field is compared, the chance that the child is \
                             this one record among all those held"
                .into(),
            (_, "missing") => "not recorded on one side".into(),
            ("forename", "nickname") => match &self.values {
                Some((a, b)) => {
                    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
                    format!("{short} is a short form of {long}")
                }
                None => "a short form of the same name".into(),
            },
            ("forename", "other_name") => {
                format!("matches a middle name or alias{pair}")
            }
            ("forename", "initial") => format!("only an initial, which fits{pair}"),
            ("forename" | "surname", "exact") => format!("same{pair}"),
            ("forename" | "surname", "jaro_winkler_high") => {
                format!("nearly the same spelling{pair}")
            }
            ("forename" | "surname", "phonetic") => format!("same sound{pair}"),
            ("forename" | "surname", "jaro_winkler_mid") => format!("similar spelling{pair}"),
            ("surname", "shared_token") => {
                format!("shares one part of a double-barrelled name{pair}")
            }
            ("forename" | "surname", "disagree") => format!("different{pair}"),
            ("dob", "exact") => format!("same date{pair}"),
            ("dob", "day_month_swapped") => format!("day and month swapped{pair}"),
            ("dob", "one_digit_off") => format!("one digit different{pair}"),
            ("dob", "within_a_year") => format!("less than a year apart{pair}"),
            ("dob", "estimated_near" | "estimated_far") => {
                let years = self
                    .values
                    .as_ref()
                    .and_then(|(a, b)| {
                        let d = |s: &str| crate::model::Date::parse_iso(&s[..s.len().min(10)]);
                        Some((d(a)?.day_number() - d(b)?.day_number()).abs() as f64 / 365.25)
                    })
                    .map(|y| match y.round() as i64 {
                        0 => "less than a year apart".to_string(),
                        1 => "about 1 year apart".to_string(),
                        n => format!("about {n} years apart"),
                    })
                    .unwrap_or_else(|| "apart".into());
                format!("estimated, {years}{pair}")
            }
            ("dob", "disagree") => format!("different{pair}"),
            ("gender", "agree") => format!("same{pair}"),
            ("gender", "disagree") => format!("different{pair}"),
            ("postcode", "exact") => format!("same{pair}"),
            ("postcode", "sector") => format!("same sector{pair}"),
            ("postcode", "district") => format!("same district{pair}"),
            ("postcode", "disagree") => format!("different{pair}"),
            ("address", "exact") => format!("same{pair}"),
            ("address", "similar") => format!("similar{pair}"),
            ("address", "disagree") => format!("different{pair}"),
            ("name_order", _) => "first and last names were swapped".into(),
            ("sibling_guard", _) => "same family details but a different first name \
                                     — probably a brother or sister, so the household \
                                     details are not allowed to decide"
                .into(),
            ("competing_candidates", _) => "another record, of a different person, fits \
                                            too, so the probability is shared"
                .into(),
            (_, level) => level.replace('_', " "),
        }
    }

    /// One plain-English sentence for staff, truthful to the level and the weight:
    /// "First name: Jack is a short form of John — counts for this record (+2.1)".
    pub fn describe(&self) -> String {
        let verdict = if self.field == "prior" {
            format!("(starting point {:+.1})", self.weight)
        } else if self.weight > NEUTRAL_BITS {
            format!("— counts for this record ({:+.1})", self.weight)
        } else if self.weight < -NEUTRAL_BITS {
            format!("— counts against this record ({:+.1})", self.weight)
        } else {
            "— no evidence either way".to_string()
        };
        format!("{}: {} {verdict}", self.label(), self.finding())
    }

    /// This row as a JSON object: field, label, level, weight, values and sentence.
    pub fn to_json(&self) -> String {
        let (q, r) = match &self.values {
            Some((a, b)) => (json_str(a), json_str(b)),
            None => ("null".into(), "null".into()),
        };
        format!(
            "{{\"field\":{},\"label\":{},\"level\":{},\"weight\":{},\"query\":{q},\"record\":{r},\"text\":{}}}",
            json_str(self.field),
            json_str(self.label()),
            json_str(self.level),
            if self.weight.is_finite() {
                format!("{:.3}", self.weight)
            } else {
                "null".into()
            },
            json_str(&self.describe())
        )
    }
}

impl Candidate {
    /// Every row of the explanation as (label, plain-English sentence, weight in bits).
    pub fn explain_plain(&self) -> Vec<(String, String, f64)> {
        self.explanation
            .iter()
            .map(|e| (e.label().to_string(), e.describe(), e.weight))
            .collect()
    }

    /// The explanation as a JSON array (see [`FieldComparison::to_json`]).
    pub fn explanation_json(&self) -> String {
        let rows: Vec<String> = self.explanation.iter().map(|e| e.to_json()).collect();
        format!("[{}]", rows.join(","))
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        field: &'static str,
        level: &'static str,
        w: f64,
        v: Option<(&str, &str)>,
    ) -> FieldComparison {
        FieldComparison {
            field,
            level,
            weight: w,
            values: v.map(|(a, b)| (a.to_string(), b.to_string())),
        }
    }

    #[test]
    fn sentences_name_the_values_and_follow_the_sign_of_the_weight() {
        let s = row("forename", "nickname", 2.1, Some(("Jack", "John"))).describe();
        assert_eq!(
            s,
            "First name: Jack is a short form of John — counts for this record (+2.1)"
        );
        let s = row("surname", "phonetic", 3.0, Some(("Smyth", "Smith"))).describe();
        assert!(s.starts_with("Surname: same sound (Smyth / Smith)"), "{s}");
        let s = row("postcode", "district", 1.5, Some(("LS6 2AB", "LS6 9ZZ"))).describe();
        assert!(s.starts_with("Postcode: same district"), "{s}");
        // A negative weight reads as evidence against, whatever the level is called.
        let s = row(
            "dob",
            "estimated_near",
            -1.2,
            Some(("2015-03-01", "2017-03-01")),
        )
        .describe();
        assert!(
            s.contains("estimated, about 2 years apart") && s.contains("counts against"),
            "{s}"
        );
        let s = row(
            "dob",
            "estimated_near",
            2.0,
            Some(("2015-03-01", "2017-03-01")),
        )
        .describe();
        assert!(s.contains("counts for this record (+2.0)"), "{s}");
        let s = row("gender", "missing", 0.0, None).describe();
        assert_eq!(s, "Sex: not recorded on one side — no evidence either way");
        let s = row("name_order", "first_and_last_swapped", -1.0, None).describe();
        assert!(
            s.starts_with("Name order: first and last names were swapped — counts against"),
            "{s}"
        );
        let s = row("sibling_guard", "forename_conflict", -20.0, None).describe();
        assert!(s.contains("probably a brother or sister"), "{s}");
    }

    #[test]
    fn json_rows_are_escaped() {
        let j = row("surname", "exact", 7.0, Some(("O\"Neil", "O\"Neil"))).to_json();
        assert!(j.contains("\"query\":\"O\\\"Neil\""), "{j}");
        assert!(
            j.starts_with(
                "{\"field\":\"surname\",\"label\":\"Surname\",\"level\":\"exact\",\"weight\":7.000"
            ),
            "{j}"
        );
        assert_eq!(json_str("a\nb"), "\"a\\nb\"");
    }
}
