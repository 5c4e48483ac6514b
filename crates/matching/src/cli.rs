//! Command-line entry points (`ehm match`, `ehm bench-match`), wired up by the
//! project's binary.

use crate::fit::FitOptions;
use crate::index::{Candidate, Compared, Index, Prepared};
use crate::model::{Date, Gender, Person};
use crate::normalize::postcode_key;
use rayon::prelude::*;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A fatal CLI error; `Display` is always a single line.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError(String);

impl CliError {
    pub fn new(msg: impl Into<String>) -> CliError {
        let m: String = msg.into();
        CliError(m.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

/// `ehm match`: link each query row to the person index.
#[derive(clap::Args, Debug, Clone)]
pub struct MatchArgs {
    /// Person index CSV (id,first_name,last_name,dob,dob_estimated,gender,postcode,address).
    #[arg(long)]
    pub index: PathBuf,
    /// Queries CSV, same columns.
    #[arg(long)]
    pub queries: PathBuf,
    /// Output CSV: query_id,person_id,score.
    #[arg(long)]
    pub out: PathBuf,
    /// Minimum match probability to report.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Maximum candidates per query.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Keep the built-in parameters instead of fitting m, u and the match share to this
    /// batch (by default they are learnt by EM from the queries' candidate pairs).
    #[arg(long)]
    pub no_train: bool,
    /// Print the model used (m, u and weight of every level, the match share) to stderr.
    #[arg(long)]
    pub print_model: bool,
    /// Add an `explanation` column: per-field levels, weights and plain-English
    /// sentences as JSON (the explanation the work tray shows).
    #[arg(long)]
    pub explain: bool,
}

/// `ehm bench-match`: synthetic accuracy and speed benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchMatchArgs {
    /// Persons in the synthetic index.
    #[arg(long, default_value_t = 100_000)]
    pub persons: usize,
    /// Queries to run (about 20% are people not in the index).
    #[arg(long, default_value_t = 5_000)]
    pub queries: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also time `run_match` end to end on 5,000 queries against 5,000 persons via CSV files.
    #[arg(long)]
    pub end_to_end: bool,
    /// Then upsert this many records (half of them changed versions of indexed children,
    /// half new children) into the delta overlay and time the queries again (0: skip).
    #[arg(long, default_value_t = 5_000)]
    pub delta: usize,
}

/// Read a person CSV. Malformed values are reported to `warnings` with their line
/// number and treated as missing (an impossible date of birth is kept as text).
pub fn read_persons(path: &Path, warnings: &mut dyn Write) -> Result<Vec<Person>, CliError> {
    let mut out = Vec::new();
    read_persons_with(path, |row, person, notes| {
        for n in notes {
            let _ = writeln!(warnings, "{}: row {row}: {n}", path.display());
        }
        match person {
            Ok(p) => out.push(p),
            Err(e) => {
                let _ = writeln!(warnings, "{}: row {row}: {}", path.display(), e.message);
            }
        }
    })?;
    Ok(out)
}

/// A row of a person CSV that could not be used at all (unreadable, or without an id).
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    /// Line number in the file (the header is row 1).
    pub row: u64,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row, self.message)
    }
}

/// Read a person CSV row by row without holding the file in memory (for importers).
/// `on_row(row_number, person_or_error, warnings)` is called once per data row, in
/// file order: `Ok(person)` for a usable row, whose malformed values (listed in
/// `warnings`, e.g. "unrecognised gender \"3\" treated as missing") were treated as
/// missing, or `Err(RowError)` for a row that was skipped. Row numbers are file lines
/// (the header is row 1). Fatal problems (no file, no `id` column) are `Err(CliError)`.
pub fn read_persons_with(
    path: &Path,
    mut on_row: impl FnMut(u64, Result<Person, RowError>, &[String]),
) -> Result<(), CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::new(format!("cannot open {}: {e}", path.display())))?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    // A UTF-8 byte order mark (Excel's "CSV UTF-8") is not part of the first header.
    {
        use std::io::BufRead;
        let buf = input
            .fill_buf()
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
        if buf.starts_with(b"\xEF\xBB\xBF") {
            input.consume(3);
        }
    }
    // Fields are trimmed as they are read (`get` below); the header names by `norm`.
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| CliError::new(format!("cannot read the header of {}: {e}", path.display())))?
        .clone();
    // Header names compare case-insensitively, with spaces and hyphens read as
    // underscores ("First Name" = first_name).
    let norm = |h: &str| -> String {
        h.trim()
            .trim_start_matches('\u{feff}')
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let names: Vec<String> = headers.iter().map(norm).collect();
    let find = |name: &str| names.iter().position(|h| h == name);
    // A documented column name wins; otherwise a common synonym is accepted (never for `id`).
    let col =
        |name: &str, aliases: &[&str]| find(name).or_else(|| aliases.iter().find_map(|a| find(a)));
    let id_col = col("id", &[])
        .ok_or_else(|| CliError::new(format!("{} has no id column", path.display())))?;
    let c_first = col(
        "first_name",
        &[
            "forename",
            "given_name",
            "firstname",
            "first_names",
            "forenames",
        ],
    );
    let c_last = col("last_name", &["surname", "family_name", "lastname"]);
    let c_other = col("other_names", &["middle_names", "middle_name"]);
    let c_dob = col("dob", &["date_of_birth", "birth_date", "birthdate"]);
    let c_est = col("dob_estimated", &["dob_is_estimated", "estimated_dob"]);
    let c_gender = col("gender", &["sex"]);
    let c_pc = col("postcode", &["post_code", "postal_code", "zip"]);
    let c_addr = col("address", &["street_address", "address_line_1", "address1"]);
    let mut notes: Vec<String> = Vec::new();
    for rec in rdr.records() {
        notes.clear();
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line());
                let message = format!(
                    "unreadable row skipped ({})",
                    e.to_string().replace('\n', " ")
                );
                on_row(row, Err(RowError { row, message }), &notes);
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| {
            c.and_then(|i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let Some(id) = get(Some(id_col)) else {
            let message = "empty id, row skipped".to_string();
            on_row(line, Err(RowError { row: line, message }), &notes);
            continue;
        };
        let mut w = |_: u64, msg: String| notes.push(msg);
        let mut p = Person::new(id);
        p.first_name = get(c_first).map(str::to_string);
        p.last_name = get(c_last).map(str::to_string);
        if let Some(o) = get(c_other) {
            p.other_names = o
                .split([';', '|'])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(d) = get(c_dob) {
            match Date::parse_lenient(d) {
                Some(d) => p.dob = Some(d),
                None => match Date::digits_lenient(d) {
                    // A present but impossible date still carries evidence.
                    Some(_) => {
                        w(line, format!("impossible dob {d:?} compared as text"));
                        p.dob_text = Some(d.to_string());
                    }
                    None => w(line, format!("unreadable dob {d:?} treated as missing")),
                },
            }
        }
        if let Some(e) = get(c_est) {
            match e.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "y" | "t" | "estimated" => p.dob_estimated = true,
                "false" | "0" | "no" | "n" | "f" | "actual" => {}
                _ => w(
                    line,
                    format!("invalid dob_estimated {e:?} treated as false"),
                ),
            }
        }
        if let Some(g) = get(c_gender) {
            match Gender::parse(g) {
                Ok(g) => p.gender = g,
                Err(()) => w(
                    line,
                    format!("unrecognised gender {g:?} treated as missing"),
                ),
            }
        }
        if let Some(pc) = get(c_pc) {
            if postcode_key(pc).is_some() {
                p.postcode = Some(pc.to_string());
            } else {
                w(line, format!("invalid postcode {pc:?} treated as missing"));
            }
        }
        p.address = get(c_addr).map(str::to_string);
        on_row(line, Ok(p), &notes);
    }
    Ok(())
}

/// Match every query against the index and write `query_id,person_id,score`.
pub fn match_persons(
    index: &Index,
    queries: &[Person],
    top: usize,
    threshold: f64,
) -> Vec<Vec<Candidate>> {
    queries
        .par_iter()
        .map(|q| index.search(q, top, threshold))
        .collect()
}

pub fn run_match(args: &MatchArgs, warnings: &mut dyn Write) -> Result<(), CliError> {
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(CliError::new(format!(
            "--threshold must be between 0 and 1, got {}",
            args.threshold
        )));
    }
    // The two files are read side by side; their warnings are written in file order.
    let (mut wi, mut wq) = (Vec::new(), Vec::new());
    let (persons, queries) = rayon::join(
        || read_persons(&args.index, &mut wi),
        || read_persons(&args.queries, &mut wq),
    );
    let _ = warnings.write_all(&wi);
    let persons = persons?;
    let _ = warnings.write_all(&wq);
    let queries = queries?;
    let train = !args.no_train && queries.len() >= crate::fit::MIN_QUERIES_FOR_U;
    let mut index = if train {
        // The fit re-estimates u from random (query, record) pairs, so the build's own
        // random-pair estimate would be redone: skip it.
        Index::build_with_params(persons, crate::compare::Params::default(), false)
    } else {
        Index::build(persons)
    };
    // Each query is normalised once, for the fit and the search.
    let prepared: Vec<Prepared> = queries.par_iter().map(Prepared::new).collect();
    let mut compared: Vec<Compared> = Vec::new();
    if !args.no_train && !queries.is_empty() {
        let opts = FitOptions {
            u_pairs: if train { 50_000 } else { 0 },
            ..FitOptions::default()
        };
        // The fit's own deterministic sample when the batch is larger than it uses.
        let k = opts.max_queries.max(1);
        let pick: Vec<usize> = if queries.len() <= k {
            (0..queries.len()).collect()
        } else {
            (0..k).map(|i| i * queries.len() / k).collect()
        };
        let ids: Vec<&str> = pick.iter().map(|&i| queries[i].id.as_str()).collect();
        let sample: Vec<&Prepared> = pick.iter().map(|&i| &prepared[i]).collect();
        // When the fit sees every query, its comparisons are kept for the search, which
        // then only rescores them with the fitted model (the same results).
        let mut kept: Vec<Compared> = Vec::new();
        let all = pick.len() == queries.len();
        let model = index.fit_prepared(&ids, &sample, &opts, all.then_some(&mut kept));
        index.set_model(model);
        compared = kept;
    }
    if args.print_model {
        let _ = write!(warnings, "{}", index.model());
    }
    let results: Vec<Vec<Candidate>> = if compared.len() == prepared.len() {
        prepared
            .par_iter()
            .zip(compared.into_par_iter())
            .map(|(q, k)| index.search_compared(q, k, args.top, args.threshold, args.explain))
            .collect()
    } else {
        prepared
            .par_iter()
            .map(|q| index.search_prepared_with(q, args.top, args.threshold, args.explain))
            .collect()
    };
    let file = std::fs::File::create(&args.out)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", args.out.display())))?;
    let mut wtr = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let werr = |e: csv::Error| CliError::new(format!("cannot write {}: {e}", args.out.display()));
    let mut header = vec!["query_id", "person_id", "score"];
    if args.explain {
        header.push("explanation");
    }
    wtr.write_record(&header).map_err(werr)?;
    // Sorted by query id (numerically when both ids are numbers), then by descending
    // score (search already returns each query's candidates best first).
    let mut order: Vec<usize> = (0..queries.len()).collect();
    order.sort_by(|&a, &b| compare_ids(&queries[a].id, &queries[b].id));
    for (q, cands) in order.iter().map(|&i| (&queries[i], &results[i])) {
        for c in cands {
            // Rounded down, so a printed score never passes a threshold the
            // probability itself does not.
            let score = format!("{:.6}", (c.score * 1e6).floor() / 1e6);
            if args.explain {
                wtr.write_record([
                    q.id.as_str(),
                    c.person_id.as_str(),
                    &score,
                    &c.explanation_json(),
                ])
            } else {
                wtr.write_record([q.id.as_str(), c.person_id.as_str(), &score])
            }
            .map_err(werr)?;
        }
    }
    wtr.flush()
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", args.out.display())))?;
    Ok(())
}

/// Order of query ids in the output: numeric ids numerically ("9" < "10"), anything
/// else by its text.
pub fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        ta.len()
            .cmp(&tb.len())
            .then_with(|| ta.cmp(tb))
            .then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

pub fn run_bench_match(args: &BenchMatchArgs, out: &mut dyn Write) -> Result<(), CliError> {
    crate::synth::bench(args, out)
        .map_err(|e| CliError::new(format!("cannot write the report: {e}")))
}
