//! `ehm import-persons FILE.csv`: load the case-management records into the person index
//!
//!
//! Columns as `ehm match`: `id,first_name,last_name,dob,dob_estimated,gender,postcode,address`
//! plus an optional `other_names` (several separated by `;` or `|`). Header names are read
//! leniently (any case, spaces for underscores, common synonyms such as `surname` or
//! `date_of_birth`), never for `id`.
//!
//! - A row with a value that cannot be stored faithfully is reported on stderr with its row
//!   number (the line in the file) and the reason, and skipped: unreadable CSV, an empty or
//!   over-long id, an id already seen earlier in the file, no name at all, a date of birth
//!   that is not a date, an unrecognised `dob_estimated` or gender, a postcode that is not
//!   one, a value over its length limit. The other rows are imported.
//! - Re-importing is idempotent by id: a person whose details are unchanged is not written
//!   again (no new change number), a changed one is updated, a new one inserted.
//! - Rows are written in batches of 3,000, one transaction each, while the next batch is
//!   parsed on another thread. If the database fails part-way, the batches already written
//!   stay and running the import again completes it.
//! - A progress bar is drawn on stderr only when stderr is a terminal; a one-line summary
//!   goes to stdout. Exit status 0 when the import ran (even with skipped rows, which the
//!   summary counts), 2 with a one-line error for a missing file, a file without an `id`
//!   column or a database failure.

use crate::commands::{open_store, runtime};
use crate::config::Config;
use anyhow::{Context, bail};
use ehm_domain::mash::PersonId;
use ehm_matching::normalize::postcode_key;
use ehm_matching::{Date, Gender};
use ehm_storage::{AuditEntry, PersonData, UPSERT_BATCH_ROWS, UpsertCounts};
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use time::OffsetDateTime;

#[derive(clap::Args)]
pub struct Args {
    /// CSV file: id,first_name,last_name,dob,dob_estimated,gender,postcode,address[,other_names]
    file: PathBuf,
    /// Instead of importing, write a synthetic file of this many fictional people to FILE
    /// (for the import benchmark).
    #[arg(long, hide = true, value_name = "N")]
    generate: Option<usize>,
}

const NAME_MAX: usize = 100;
const ADDRESS_MAX: usize = 500;
const OTHER_NAMES_MAX: usize = 500;

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(n) = args.generate {
        return generate(&args.file, n);
    }
    // No log subscriber: sqlx would log every batch as a "slow statement" with all its
    // placeholders. Errors are reported through the result.
    let started = Instant::now();
    // Open and check the header before touching the database, so a wrong file fails fast.
    let (reader, columns, size) = open_csv(&args.file)?;
    let config = Config::load()?;
    let display = args.file.display().to_string();
    let terminal = std::io::stderr().is_terminal();
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(4);
        let parser = std::thread::spawn(move || parse(reader, columns, &display, terminal, tx));
        let mut counts = UpsertCounts::default();
        let mut progress = Progress::new(terminal, size);
        let mut failure = None;
        while let Some(batch) = rx.recv().await {
            let now = OffsetDateTime::now_utc();
            match store.upsert_persons_batch(&batch.people, now).await {
                Ok(c) => counts += c,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            progress.show(batch.rows_read, batch.bytes_read, counts);
        }
        drop(rx);
        let skipped = parser
            .join()
            .map_err(|_| anyhow::anyhow!("the CSV reader stopped unexpectedly"))?;
        progress.clear();
        if let Some(e) = failure {
            return Err(anyhow::Error::from(e).context("the import stopped part-way (the rows written so far are kept; run it again to finish)"));
        }
        let skipped = skipped?;
        let outcome = format!(
            "{} new, {} updated, {} unchanged, {} skipped",
            counts.inserted, counts.updated, counts.unchanged, skipped
        );
        store
            .audit(
                &AuditEntry {
                    actor_user_id: None,
                    action: "import-persons",
                    object_type: "person-index",
                    object_id: "import",
                    outcome: &outcome,
                    ip: "cli",
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        let people = counts.inserted + counts.updated + counts.unchanged;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "Imported {} people ({} new, {} updated, {} unchanged; {} {} skipped) in {:.1} s ({} rows/s).",
            thousands(people),
            thousands(counts.inserted),
            thousands(counts.updated),
            thousands(counts.unchanged),
            thousands(skipped),
            if skipped == 1 { "row" } else { "rows" },
            secs,
            thousands(((people + skipped) as f64 / secs.max(1e-9)) as u64),
        );
        Ok(())
    })
}

/// Column positions found in the header.
struct Columns {
    id: usize,
    first: Option<usize>,
    last: Option<usize>,
    other: Option<usize>,
    dob: Option<usize>,
    estimated: Option<usize>,
    gender: Option<usize>,
    postcode: Option<usize>,
    address: Option<usize>,
}

type CsvReader = csv::Reader<Box<dyn Read + Send>>;

fn open_csv(path: &Path) -> anyhow::Result<(CsvReader, Columns, u64)> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    {
        // A UTF-8 byte order mark (Excel's "CSV UTF-8") is not part of the first header.
        use std::io::BufRead;
        let buf = input
            .fill_buf()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if buf.starts_with(b"\xEF\xBB\xBF") {
            input.consume(3);
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(Box::new(input) as Box<dyn Read + Send>);
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?
        .clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            h.trim()
                .chars()
                .map(|c| match c {
                    ' ' | '-' => '_',
                    c => c.to_ascii_lowercase(),
                })
                .collect()
        })
        .collect();
    let find = |name: &str| names.iter().position(|h| h == name);
    let col =
        |name: &str, aliases: &[&str]| find(name).or_else(|| aliases.iter().find_map(|a| find(a)));
    let Some(id) = find("id") else {
        bail!(
            "{} has no id column (expected columns: id,first_name,last_name,dob,dob_estimated,gender,postcode,address)",
            path.display()
        );
    };
    let columns = Columns {
        id,
        first: col(
            "first_name",
            &[
                "forename",
                "given_name",
                "firstname",
                "first_names",
                "forenames",
            ],
        ),
        last: col("last_name", &["surname", "family_name", "lastname"]),
        other: col("other_names", &["middle_names", "middle_name"]),
        dob: col("dob", &["date_of_birth", "birth_date", "birthdate"]),
        estimated: col("dob_estimated", &["dob_is_estimated", "estimated_dob"]),
        gender: col("gender", &["sex"]),
        postcode: col("postcode", &["post_code", "postal_code", "zip"]),
        address: col("address", &["street_address", "address_line_1", "address1"]),
    };
    Ok((reader, columns, size))
}

struct Batch {
    people: Vec<PersonData>,
    rows_read: u64,
    bytes_read: u64,
}

/// Reads the whole file, sending batches; returns the number of skipped rows.
fn parse(
    mut reader: CsvReader,
    columns: Columns,
    file: &str,
    terminal: bool,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> anyhow::Result<u64> {
    // Not locked for the whole run: the progress bar and log lines write to stderr too.
    let mut err = std::io::BufWriter::new(std::io::stderr());
    let clear = if terminal { "\r\x1b[K" } else { "" };
    let mut seen: HashMap<Box<str>, u64> = HashMap::new();
    let mut people = Vec::with_capacity(UPSERT_BATCH_ROWS);
    let mut rows = 0u64;
    let mut skipped = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                rows += 1;
                skipped += 1;
                let line = e.position().map_or(line, |p| p.line());
                writeln!(
                    err,
                    "{clear}{file}: row {line}: unreadable row skipped ({})",
                    one_line(&e.to_string())
                )?;
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    // The reader cannot continue after an I/O error.
                    err.flush()?;
                    bail!("cannot read {file}: {}", one_line(&e.to_string()));
                }
                continue;
            }
        }
        rows += 1;
        let line = record.position().map_or(line, |p| p.line());
        match person(&record, &columns) {
            Ok(p) => {
                if let Some(first) = seen.get(p.id.as_str()) {
                    skipped += 1;
                    writeln!(
                        err,
                        "{clear}{file}: row {line}: duplicate id {:?} (first on row {first}), row skipped",
                        p.id
                    )?;
                    continue;
                }
                seen.insert(p.id.clone().into_boxed_str(), line);
                people.push(p);
            }
            Err(reason) => {
                skipped += 1;
                writeln!(err, "{clear}{file}: row {line}: {reason}, row skipped")?;
                continue;
            }
        }
        if people.len() == UPSERT_BATCH_ROWS {
            err.flush()?;
            let batch = Batch {
                people: std::mem::replace(&mut people, Vec::with_capacity(UPSERT_BATCH_ROWS)),
                rows_read: rows,
                bytes_read: reader.position().byte(),
            };
            if tx.blocking_send(batch).is_err() {
                // The writer stopped (a database error); it reports why.
                return Ok(skipped);
            }
        }
    }
    err.flush()?;
    if !people.is_empty() {
        let _ = tx.blocking_send(Batch {
            people,
            rows_read: rows,
            bytes_read: reader.position().byte(),
        });
    }
    Ok(skipped)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One row as a person, or why it cannot be imported.
fn person(rec: &csv::StringRecord, c: &Columns) -> Result<PersonData, String> {
    let get = |i: Option<usize>| {
        i.and_then(|i| rec.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let limited = |i: Option<usize>, name: &str, max: usize| -> Result<Option<String>, String> {
        match get(i) {
            Some(v) if v.chars().count() > max => {
                Err(format!("{name} longer than {max} characters"))
            }
            Some(v) if v.chars().any(|c| c.is_control() && c != '\n') => {
                Err(format!("{name} contains a control character"))
            }
            v => Ok(v.map(str::to_owned)),
        }
    };
    let id = PersonId::parse(get(Some(c.id)).unwrap_or("")).map_err(|e| e.to_string())?;
    let first_name = limited(c.first, "first_name", NAME_MAX)?;
    let last_name = limited(c.last, "last_name", NAME_MAX)?;
    if first_name.is_none() && last_name.is_none() {
        return Err("no first_name or last_name".into());
    }
    let other_names = limited(c.other, "other_names", OTHER_NAMES_MAX)?
        .map(|o| {
            o.split([';', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let dob = match get(c.dob) {
        None => None,
        Some(d) => Some(
            Date::parse_lenient(d)
                .ok_or_else(|| format!("dob {d:?} is not a date"))?
                .to_string(),
        ),
    };
    let dob_estimated = match get(c.estimated).map(str::to_ascii_lowercase).as_deref() {
        None => false,
        Some("true" | "1" | "yes" | "y" | "t" | "estimated") => true,
        Some("false" | "0" | "no" | "n" | "f" | "actual") => false,
        Some(e) => return Err(format!("dob_estimated {e:?} is not true or false")),
    };
    let gender = match get(c.gender) {
        None => None,
        Some(g) => match Gender::parse(g) {
            Ok(Some(Gender::Male)) => Some("male".to_owned()),
            Ok(Some(Gender::Female)) => Some("female".to_owned()),
            // Not a recorded sex: keep the portal's own gender code when it is one.
            Ok(None) => ehm_domain::referral::Gender::parse(g)
                .ok()
                .map(|g| g.code().to_owned()),
            Err(()) => return Err(format!("gender {g:?} is not recognised")),
        },
    };
    let postcode = match get(c.postcode) {
        None => None,
        Some(p) if postcode_key(p).is_some() && p.chars().count() <= 16 => Some(p.to_owned()),
        Some(p) => return Err(format!("postcode {p:?} is not a postcode")),
    };
    let address = limited(c.address, "address", ADDRESS_MAX)?;
    Ok(PersonData {
        id: id.into_string(),
        first_name,
        last_name,
        other_names,
        dob,
        dob_estimated,
        gender,
        address,
        postcode,
    })
}

/// A progress bar on stderr, drawn only on a terminal.
struct Progress {
    on: bool,
    size: u64,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    fn new(on: bool, size: u64) -> Self {
        Progress {
            on,
            size,
            started: Instant::now(),
            last: None,
        }
    }

    fn show(&mut self, rows: u64, bytes: u64, counts: UpsertCounts) {
        if !self.on || self.last.is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        self.last = Some(Instant::now());
        let fraction = if self.size == 0 {
            0.0
        } else {
            (bytes as f64 / self.size as f64).min(1.0)
        };
        let width = 30;
        let filled = (fraction * width as f64) as usize;
        let rate = rows as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let written = counts.inserted + counts.updated + counts.unchanged;
        eprint!(
            "\r\x1b[K[{}{}] {:>3.0}%  {} rows read, {} imported  ({} rows/s)",
            "#".repeat(filled),
            "-".repeat(width - filled),
            fraction * 100.0,
            thousands(rows),
            thousands(written),
            thousands(rate as u64)
        );
    }

    fn clear(&self) {
        if self.on && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `--generate N`: a synthetic person file (fictional names, addresses and postcodes).
fn generate(path: &Path, n: usize) -> anyhow::Result<()> {
    let (people, _) = ehm_matching::synth::Generator::new(42).population(n);
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    w.write_record([
        "id",
        "first_name",
        "last_name",
        "dob",
        "dob_estimated",
        "gender",
        "postcode",
        "address",
        "other_names",
    ])?;
    for (i, p) in people.iter().enumerate() {
        w.write_record([
            format!("{}", 100_000_000 + i),
            p.first_name.clone().unwrap_or_default(),
            p.last_name.clone().unwrap_or_default(),
            p.dob.map(|d| d.to_string()).unwrap_or_default(),
            if p.dob_estimated { "true" } else { "false" }.to_owned(),
            match p.gender {
                Some(Gender::Male) => "male",
                Some(Gender::Female) => "female",
                None => "",
            }
            .to_owned(),
            p.postcode.clone().unwrap_or_default(),
            p.address.clone().unwrap_or_default(),
            p.other_names.join(";"),
        ])?;
    }
    w.flush()?;
    println!(
        "Wrote {} fictional people to {}.",
        thousands(n as u64),
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns {
            id: 0,
            first: Some(1),
            last: Some(2),
            other: Some(8),
            dob: Some(3),
            estimated: Some(4),
            gender: Some(5),
            postcode: Some(6),
            address: Some(7),
        }
    }

    fn row(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn a_good_row_is_read_with_normalised_values() {
        let p = person(
            &row(&[
                "7",
                "Mia",
                "Example",
                "03/04/2019",
                "yes",
                "F",
                "LS1 4AB",
                "1 Example Street",
                "Mimi; Amelia",
            ]),
            &columns(),
        )
        .unwrap();
        assert_eq!(p.id, "7");
        assert_eq!(p.dob.as_deref(), Some("2019-04-03"), "UK day-first");
        assert!(p.dob_estimated);
        assert_eq!(p.gender.as_deref(), Some("female"));
        assert_eq!(p.other_names, ["Mimi", "Amelia"]);
    }

    #[test]
    fn the_portals_own_gender_codes_are_kept() {
        let p = person(
            &row(&["7", "Sam", "Example", "", "", "non-binary", "", "", ""]),
            &columns(),
        )
        .unwrap();
        assert_eq!(p.gender.as_deref(), Some("non-binary"));
        let p = person(
            &row(&["7", "Sam", "Example", "", "", "unknown", "", "", ""]),
            &columns(),
        )
        .unwrap();
        assert_eq!(p.gender, None);
    }

    #[test]
    fn each_bad_value_gives_its_reason() {
        let cases: [(&[&str], &str); 6] = [
            (&["", "Mia", "Example", "", "", "", "", "", ""], "empty id"),
            (
                &["7", "", "", "", "", "", "", "", ""],
                "no first_name or last_name",
            ),
            (
                &["7", "Mia", "Example", "31/02/2019", "", "", "", "", ""],
                "dob \"31/02/2019\" is not a date",
            ),
            (
                &["7", "Mia", "Example", "", "perhaps", "", "", "", ""],
                "dob_estimated \"perhaps\" is not true or false",
            ),
            (
                &["7", "Mia", "Example", "", "", "q", "", "", ""],
                "gender \"q\" is not recognised",
            ),
            (
                &["7", "Mia", "Example", "", "", "", "not a postcode!", "", ""],
                "postcode \"not a postcode!\" is not a postcode",
            ),
        ];
        for (fields, reason) in cases {
            assert_eq!(person(&row(fields), &columns()).unwrap_err(), reason);
        }
        let long = "x".repeat(101);
        assert_eq!(
            person(
                &row(&["7", &long, "Example", "", "", "", "", "", ""]),
                &columns()
            )
            .unwrap_err(),
            "first_name longer than 100 characters"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999_998), "999,998");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
