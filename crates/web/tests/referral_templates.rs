//! The referral pages as the app serves them: the real router (`ehm_web::app`) with the
//! templates built into it, on a temporary SQLite database, served on a random port and
//! driven like a browser (ehm-testkit's `Client`: cookies, CSRF tokens), signed in as a
//! referrer. Every draft is made through the real forms; no context is made up.
//!
//! The `<main>` of each page is snapshotted with insta (`tests/snapshots/`; volatile values
//! redacted: CSRF tokens, public ids, dates that follow today, reference numbers), and what
//! matters is also asserted: every input id of a section, `autocomplete="off"` on child
//! inputs (R-11), errors inline and in the summary, nothing like "undefined" or "none"
//! leaking, and that what a page posts back gives the same draft.
//!
//! Review a changed snapshot with `cargo insta review` (or `INSTA_UPDATE=always cargo test
//! -p ehm-web --test referral_templates` and read the diff of the `.snap` files).
//!
//! The pages are also written to `$TMPDIR/referral-pages/` (or `$REFERRAL_PAGES_DIR`)
//! for a look in a browser or an axe-core run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use ehm_domain::account::{Email, Role};
use ehm_domain::referral::{ReferralDraft, Section, form_options, validate_section};
use ehm_storage::{NewUser, Store};
use ehm_testkit::{Client, Page};
use ehm_web::{AppState, Settings};
use time::{Date, Duration, OffsetDateTime};

const EMAIL: &str = "sam.teacher@example.org";
const PASSWORD: &str = "lantern quartz meadow";

// ---------------------------------------------------------------------------
// The app, in this process.

struct Portal {
    client: Client,
    store: Store,
    /// Values that change from run to run, and what the snapshots show instead.
    redactions: Mutex<Vec<(String, String)>>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn settings(go_live: Option<OffsetDateTime>) -> Settings {
    Settings {
        service_name: "Early Help referral portal".into(),
        organisation_name: "Example Council".into(),
        public_url: "http://127.0.0.1".into(),
        mash_phone: "01632 960999".into(),
        go_live,
        draft_retention: Duration::days(30),
        session_idle: Duration::minutes(15),
        session_warning: Duration::minutes(2),
        session_max: Duration::hours(12),
        login_code: false,
        decision_target_days: 1,
        demo: false,
        trusted_proxies: Vec::new(),
        templates_dir: None,
        static_dir: None,
    }
}

/// The app on a fresh database with one referrer, signed in.
async fn portal_with(go_live: Option<OffsetDateTime>) -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ehm.sqlite3").display()
    );
    let store = Store::connect(&url).await.expect("a SQLite database");
    let hash = ehm_web::hash_password(PASSWORD.into())
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    let email = Email::parse_for_registration(EMAIL).unwrap();
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: "Sam Teacher",
                role: Role::Referrer,
                password_hash: &hash,
                verified: true,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    ehm_storage::commit(tx).await.unwrap();

    let app = ehm_web::app(AppState::new(store.clone(), settings(go_live)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let client = Client::new(&format!("http://{addr}"));
    client.get("/sign-in").await.assert_status(200);
    let signed_in = client
        .post_form("/sign-in", &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(
        signed_in.location.as_deref(),
        Some("/"),
        "{}",
        signed_in.text()
    );
    let deletion = long_date(today() + Duration::days(30));
    Portal {
        client,
        store,
        redactions: Mutex::new(vec![(deletion, "[deletion date]".into())]),
        server,
        _dir: dir,
    }
}

async fn portal() -> Portal {
    portal_with(None).await
}

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

fn long_date(d: Date) -> String {
    let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    d.format(&f).unwrap()
}

/// An unborn child's due date (it must be in the coming months, so it follows today).
fn due_date() -> Date {
    today() + Duration::days(60)
}

impl Portal {
    fn redact(&self, value: &str, label: &str) {
        self.redactions
            .lock()
            .unwrap()
            .push((value.to_owned(), label.to_owned()));
    }

    async fn get(&self, path: &str) -> Page {
        self.client.get(path).await
    }

    /// Starts a draft through the home page; its public id is redacted as `label`.
    async fn new_draft(&self, label: &str) -> String {
        self.get("/").await.assert_status(200);
        let p = self.client.post_form("/referrals", &[]).await;
        assert_eq!(p.status, 303, "{}", p.text());
        let pid = p
            .location
            .unwrap()
            .trim_start_matches("/referrals/")
            .to_owned();
        self.redact(&pid, label);
        pid
    }

    /// Posts a section as its page would: the page's version, `fields`, and `completed`
    /// and `action` unless given.
    async fn post_section(&self, pid: &str, slug: &str, fields: &[(String, String)]) -> Page {
        let path = format!("/referrals/{pid}/{slug}");
        let page = self.get(&path).await;
        let version = page
            .form_value("version")
            .unwrap_or_else(|| panic!("no version on {path}: {}", page.text()));
        let mut form: Vec<(&str, &str)> = vec![("version", &version)];
        form.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !fields.iter().any(|(k, _)| k == "completed") {
            form.push(("completed", "yes"));
        }
        if !fields.iter().any(|(k, _)| k == "action") {
            form.push(("action", "continue"));
        }
        self.client.post_form(&path, &form).await
    }

    /// The draft's version, as its forms must post it.
    async fn version(&self, pid: &str) -> i64 {
        let row = self.store.referral_by_public_id(pid).await.unwrap();
        row.expect("the referral").version
    }

    async fn draft(&self, pid: &str) -> ReferralDraft {
        let row = self
            .store
            .referral_by_public_id(pid)
            .await
            .unwrap()
            .expect("the referral");
        row.draft
    }

    /// Fills in every section of `pid` with [`full_sections`]; `later` are saved with "No,
    /// I'll come back later".
    async fn fill(&self, pid: &str, later: &[&str]) {
        for (slug, mut fields) in full_sections() {
            if later.contains(&slug) {
                fields.push(("completed".into(), "no".into()));
                fields.push(("action".into(), "later".into()));
            }
            let p = self.post_section(pid, slug, &fields).await;
            assert_eq!(
                (p.status, p.location.as_deref()),
                (303, Some(format!("/referrals/{pid}").as_str())),
                "{slug}: {:?}",
                p.error_summary()
            );
        }
    }

    /// A file added through the attachments page; its public id is redacted.
    async fn upload(&self, pid: &str, name: &str) {
        let path = format!("/referrals/{pid}/attachments");
        let page = self.get(&path).await;
        let version = page.form_value("version").unwrap();
        let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
        let p = self
            .client
            .post_multipart(
                &path,
                &[("version", &version)],
                ("file", name, "application/pdf", pdf),
            )
            .await;
        assert_eq!(p.status, 303, "{:?}", p.error_summary());
        let page = self.get(&path).await;
        let prefix = format!("/referrals/{pid}/attachments/");
        for href in page.select_attr("#attachments a[href]", "href") {
            let id = href.trim_start_matches(&prefix).to_owned();
            if !self
                .redactions
                .lock()
                .unwrap()
                .iter()
                .any(|(v, _)| *v == id)
            {
                self.redact(&id, "[attachment id]");
            }
        }
    }

    /// Submits a complete draft; its reference number is redacted by the snapshot filters.
    async fn submit(&self, pid: &str) {
        let check = self.get(&format!("/referrals/{pid}/check")).await;
        let version = check.form_value("version").expect("a submit form");
        let done = self
            .client
            .post_form(
                &format!("/referrals/{pid}/submit"),
                &[("version", &version)],
            )
            .await;
        assert_eq!(
            done.location,
            Some(format!("/referrals/{pid}/confirmation")),
            "{}",
            done.text()
        );
    }

    /// The `<main>` of a page, redacted, as a snapshot; the whole page is saved to look at.
    fn snapshot(&self, name: &str, page: &Page) {
        let html = html_of(page);
        assert_no_leaks(name, &html);
        save(&format!("{name}.html"), &html);
        let start = html.find("<main").expect("a <main>");
        let end = html.find("</main>").expect("</main>") + "</main>".len();
        let mut main = html[start..end].to_owned();
        for (value, label) in self.redactions.lock().unwrap().iter() {
            main = main.replace(value.as_str(), label);
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_snapshot_path("snapshots");
        settings.add_filter(
            r#"name="csrf_token" value="[^"]+""#,
            r#"name="csrf_token" value="[csrf token]""#,
        );
        settings.add_filter(r"\bEH-[0-9A-Z]{4}-[0-9A-Z]{4}\b", "[reference]");
        // A digest of the section's answers (which hold dates that follow today).
        settings.add_filter(
            r#"name="section_hash" value="[0-9a-f]+""#,
            r#"name="section_hash" value="[section hash]""#,
        );
        settings.add_filter(
            r"\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4} at \d{2}:\d{2} UTC",
            "[date and time]",
        );
        settings.add_filter(
            r#"(id="child-\d-due-(?:day|month|year)"[^>]*? value=")\d+""#,
            r#"$1[due]""#,
        );
        settings.add_filter(&regex_escape(&long_date(due_date())), "[due date]");
        settings.bind(|| insta::assert_snapshot!(name, main));
    }
}

/// The page's HTML with minijinja's `&#x2f;` for "/" undone, so that assertions and
/// snapshots can name URLs plainly (the two mean the same in HTML).
fn html_of(page: &Page) -> String {
    page.body.replace("&#x2f;", "/")
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn save(file: &str, html: &str) {
    let dir = std::env::var_os("REFERRAL_PAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("referral-pages"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), html).unwrap();
}

// ---------------------------------------------------------------------------
// A complete referral, as a browser posts it: every value fictional, every field filled,
// every tick box ticked somewhere, characters that need escaping.

fn nhs_number(seed: u32) -> String {
    let mut n = seed;
    loop {
        let s = format!("999{:06}", n % 1_000_000);
        let sum: u32 = s
            .bytes()
            .enumerate()
            .map(|(i, b)| (b - b'0') as u32 * (10 - i as u32))
            .sum();
        let check = 11 - sum % 11;
        if check != 10 {
            let d = format!("{s}{}", if check == 11 { 0 } else { check });
            return format!("{} {} {}", &d[..3], &d[3..6], &d[6..]);
        }
        n += 1;
    }
}

fn full_sections() -> Vec<(&'static str, Vec<(String, String)>)> {
    let due = due_date();
    let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut children = f(&[
        ("child-count", "2"),
        ("child-0-first-name", "Mia"),
        ("child-0-last-name", "O'Example & Co"),
        ("child-0-other-names", "Mimi"),
        ("child-0-dob-day", "3"),
        ("child-0-dob-month", "7"),
        ("child-0-dob-year", "2015"),
        ("child-0-dob-estimated", "yes"),
        ("child-0-gender", "female"),
        ("child-0-ethnicity", "MWBA"),
        ("child-0-address", "1 Test Street\nSampletown"),
        ("child-0-postcode", "SA1 2XY"),
        ("child-0-gp", "Sampletown Surgery"),
        ("child-0-school", "Sampletown Primary"),
        ("child-0-religion", "Buddhist"),
        ("child-0-first-language", "English"),
        ("child-0-interpreter", "no"),
        ("child-0-health-needs", "Asthma <severe>.\nUses an inhaler."),
        ("child-1-last-name", "Example"),
        ("child-1-unborn", "yes"),
        ("child-1-gender", "unborn"),
        ("child-1-ethnicity", "NOBT"),
    ]);
    children.push(("child-0-nhs-number".into(), nhs_number(18)));
    children.push(("child-1-due-day".into(), due.day().to_string()));
    children.push(("child-1-due-month".into(), (due.month() as u8).to_string()));
    children.push(("child-1-due-year".into(), due.year().to_string()));
    vec![
        (
            "before-you-start",
            f(&[
                ("allocated-social-worker", "yes"),
                ("social-worker-name", "Priya Worker"),
                ("social-worker-contact", "01632 960500"),
                ("level-of-need", "targeted"),
            ]),
        ),
        (
            "referral-type",
            f(&[("referral-type", "childrens-social-care")]),
        ),
        ("children", children),
        (
            "household",
            f(&[
                ("household-count", "2"),
                ("household-0-name", "Jo Example"),
                ("household-0-relationship", "mother"),
                ("household-0-dob-day", "12"),
                ("household-0-dob-month", "5"),
                ("household-0-dob-year", "1990"),
                ("household-0-address", "1 Test Street\nSampletown"),
                ("household-0-phone", "01632 960321"),
                ("household-0-parental-responsibility", "yes"),
                ("household-0-language", "English"),
                ("household-0-interpreter", "no"),
                ("household-1-name", "Lee Example"),
                ("household-1-relationship", "father"),
                ("household-1-parental-responsibility", "dont-know"),
                ("household-1-language", "Polish"),
                ("household-1-interpreter", "yes"),
            ]),
        ),
        (
            "referrer",
            f(&[
                ("referrer-name", "Sam Teacher"),
                ("referrer-role", "Designated safeguarding lead"),
                ("referrer-email", EMAIL),
                ("referrer-phone", "01632 960001"),
                ("organisation-name", "Sampletown Primary"),
                ("organisation-type", "other"),
                ("organisation-type-other", "Youth club"),
                ("organisation-phone", "01632 960000"),
            ]),
        ),
        (
            "professionals",
            f(&[
                ("professional-count", "2"),
                ("professional-0-name", "Alex Nurse"),
                ("professional-0-agency", "Sampletown School Nursing"),
                ("professional-0-role", "School nurse"),
                ("professional-0-contact", "01632 960123"),
                ("professional-0-lead", "yes"),
                ("professional-1-name", "Kim Visitor"),
                ("professional-1-agency", "Sampletown Health Visiting"),
                ("professional-1-role", ""),
                ("professional-1-contact", "kim.visitor@example.org"),
            ]),
        ),
        (
            "concerns",
            f(&[
                (
                    "concerns",
                    "Mia has been late to school most days this term.\n\nShe says \"it's fine\".",
                ),
                ("what-has-been-done", "Meetings with her mother."),
                ("childs-views", "Mia says she is tired."),
                ("strengths", "Mia has a good relationship with her mother."),
                ("risks", "No known risks to visitors."),
            ]),
        ),
        (
            "previous-references",
            f(&[("previous-references", "MARF-2024-0001")]),
        ),
        (
            "support",
            f(&[("support-requested", "Family support worker.")]),
        ),
        (
            "consent",
            f(&[
                ("parents-aware", "yes"),
                ("consent", "no"),
                ("consent-reasons", "Mother asked us\nto wait."),
            ]),
        ),
    ]
}

/// The ids of a section's inputs (see the doc comments in the domain's draft.rs).
fn input_ids(section: Section, d: &ReferralDraft) -> Vec<String> {
    let list = |kind: &str, n: usize, suffixes: &[&str]| -> Vec<String> {
        (0..n)
            .flat_map(|i| suffixes.iter().map(move |s| format!("{kind}-{i}-{s}")))
            .collect()
    };
    let plain = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
    match section {
        Section::BeforeYouStart => plain(&[
            "allocated-social-worker",
            "social-worker-name",
            "social-worker-contact",
            "level-of-need",
        ]),
        Section::ReferralType => plain(&["referral-type"]),
        Section::Children => list(
            "child",
            d.children.len().max(1),
            &[
                "first-name",
                "last-name",
                "other-names",
                "unborn",
                "dob-day",
                "dob-month",
                "dob-year",
                "dob-estimated",
                "due-day",
                "due-month",
                "due-year",
                "gender",
                "ethnicity",
                "address",
                "postcode",
                "nhs-number",
                "gp",
                "school",
                "religion",
                "first-language",
                "interpreter",
                "health-needs",
            ],
        ),
        Section::Household => list(
            "household",
            d.household.len(),
            &[
                "name",
                "relationship",
                "dob-day",
                "dob-month",
                "dob-year",
                "address",
                "phone",
                "parental-responsibility",
                "language",
                "interpreter",
            ],
        ),
        Section::Referrer => plain(&[
            "referrer-name",
            "referrer-role",
            "referrer-email",
            "referrer-phone",
            "organisation-name",
            "organisation-type",
            "organisation-type-other",
            "organisation-phone",
        ]),
        Section::Professionals => list(
            "professional",
            d.professionals.len(),
            &["name", "agency", "role", "contact", "lead"],
        ),
        Section::Concerns => plain(&[
            "concerns",
            "what-has-been-done",
            "childs-views",
            "strengths",
            "risks",
        ]),
        Section::PreviousReferences => plain(&["previous-references"]),
        Section::Support => plain(&["support-requested"]),
        Section::Consent => plain(&["parents-aware", "consent", "consent-reasons"]),
        Section::Attachments => vec![],
    }
}

const FORM_SECTIONS: &[Section] = &[
    Section::BeforeYouStart,
    Section::ReferralType,
    Section::Children,
    Section::Household,
    Section::Referrer,
    Section::Professionals,
    Section::Concerns,
    Section::PreviousReferences,
    Section::Support,
    Section::Consent,
];

// ---------------------------------------------------------------------------
// A small HTML reader: enough for the markup these templates produce.

#[derive(Debug)]
struct Tag {
    name: String,
    attrs: BTreeMap<String, String>,
    /// Byte offset just after the tag.
    end: usize,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// Every start tag named `name` (`input`, `textarea`, …).
fn tags(html: &str, name: &str) -> Vec<Tag> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = html[from..].find(&open) {
        let start = from + pos;
        let after = start + open.len();
        let next = html[after..].chars().next();
        if !matches!(next, Some(c) if c.is_whitespace() || c == '>') {
            from = after;
            continue;
        }
        let end = after + html[after..].find('>').expect("tag ends") + 1;
        out.push(Tag {
            name: name.to_owned(),
            attrs: attributes(&html[after..end - 1]),
            end,
        });
        from = end;
    }
    out
}

fn attributes(s: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_owned();
        rest = rest[name_end..].trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            let (value, remaining) = if let Some(r) = r.strip_prefix('"') {
                let close = r.find('"').expect("closing quote");
                (&r[..close], &r[close + 1..])
            } else {
                let close = r.find(char::is_whitespace).unwrap_or(r.len());
                (&r[..close], &r[close..])
            };
            attrs.insert(name, unescape(value));
            rest = remaining.trim_start();
        } else {
            attrs.insert(name, String::new());
        }
    }
    attrs
}

/// What a browser would post for the form whose action is `action`, without pressing any
/// button (the caller adds `action`).
fn posted_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let form_start = tags(html, "form")
        .into_iter()
        .find(|t| t.attrs.get("action").map(String::as_str) == Some(action))
        .unwrap_or_else(|| panic!("no form posting to {action}"))
        .end;
    let form_end = form_start + html[form_start..].find("</form>").expect("form ends");
    let form = &html[..form_end];
    let inside = |t: &Tag| t.end > form_start && t.end <= form_end;
    let mut fields: Vec<(usize, String, String)> = Vec::new();
    for t in tags(form, "input").into_iter().filter(inside) {
        let Some(name) = t.attrs.get("name") else {
            continue;
        };
        let ty = t.attrs.get("type").map(String::as_str).unwrap_or("text");
        let value = t.attrs.get("value").cloned().unwrap_or_default();
        match ty {
            "radio" | "checkbox" if !t.attrs.contains_key("checked") => {}
            _ => fields.push((t.end, name.clone(), value)),
        }
    }
    for t in tags(form, "textarea").into_iter().filter(inside) {
        let close = t.end + form[t.end..].find("</textarea>").unwrap();
        let mut text = &form[t.end..close];
        // The HTML parser drops one newline straight after <textarea>.
        text = text.strip_prefix('\n').unwrap_or(text);
        fields.push((t.end, t.attrs["name"].clone(), unescape(text)));
    }
    for t in tags(form, "select").into_iter().filter(inside) {
        let close = t.end + form[t.end..].find("</select>").unwrap();
        let options = tags(&form[..close], "option");
        let chosen = options
            .iter()
            .filter(|o| o.end > t.end)
            .find(|o| o.attrs.contains_key("selected"))
            .or_else(|| options.iter().find(|o| o.end > t.end))
            .map(|o| o.attrs.get("value").cloned().unwrap_or_default())
            .unwrap_or_default();
        fields.push((t.end, t.attrs["name"].clone(), chosen));
    }
    fields.sort_by_key(|(pos, _, _)| *pos);
    fields.into_iter().map(|(_, n, v)| (n, v)).collect()
}

fn assert_no_leaks(name: &str, html: &str) {
    for bad in [
        "undefined",
        ">none<",
        ">None<",
        "=\"none\"",
        "\"None\"",
        " none ",
        "[object",
        "{{",
        "{%",
    ] {
        assert!(!html.contains(bad), "{name}: found {bad:?}");
    }
    // Text nodes that are exactly "none".
    for line in html.lines() {
        let t = line.trim();
        assert!(t != "none" && t != "None", "{name}: a bare none");
    }
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

// ---------------------------------------------------------------------------
// Section pages.

#[tokio::test]
async fn every_section_page_of_a_full_draft_has_an_input_for_every_id_of_its_section() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &["concerns"]).await;
    let d = p.draft(&pid).await;
    assert_eq!(
        (d.children.len(), d.household.len(), d.professionals.len()),
        (2, 2, 2)
    );
    for s in FORM_SECTIONS {
        let page = p.get(&format!("/referrals/{pid}/{}", s.slug())).await;
        page.assert_status(200);
        let html = html_of(&page);
        for id in input_ids(*s, &d) {
            assert!(html.contains(&format!("id=\"{id}\"")), "{s:?}: no #{id}");
        }
        assert!(html.contains("data-autosave-on-timeout"));
        assert!(html.contains(&format!(
            "<input type=\"hidden\" name=\"version\" value=\"{}\">",
            p.version(&pid).await
        )));
        assert_eq!(
            page.select_attr(
                "form[data-autosave-on-timeout] input[name=csrf_token]",
                "value"
            ),
            vec![p.client.csrf_token().unwrap()]
        );
        assert!(html.contains("Have you completed this section?"));
        assert!(html.contains("No, I’ll come back later"));
        assert!(html.contains("name=\"action\" value=\"continue\""));
        assert!(html.contains(&format!(
            "It will be deleted on <strong>{}</strong> unless you save it again.",
            long_date(today() + Duration::days(30))
        )));
        assert!(!html.contains("Error:"), "{s:?}");
        p.snapshot(&format!("section-{}", s.slug()), &page);
    }
}

#[tokio::test]
async fn what_a_section_page_posts_back_gives_the_same_draft() {
    // Every page of a full draft, read back as a browser would post it, and posted to a
    // blank draft: every answer must survive.
    let p = portal().await;
    let full = p.new_draft("[pid]").await;
    p.fill(&full, &["concerns"]).await;
    let copy = p.new_draft("[pid 2]").await;
    for s in FORM_SECTIONS {
        let html = html_of(&p.get(&format!("/referrals/{full}/{}", s.slug())).await);
        let fields: Vec<(String, String)> =
            posted_fields(&html, &format!("/referrals/{full}/{}", s.slug()))
                .into_iter()
                .filter(|(name, _)| name != "version" && name != "csrf_token")
                .collect();
        let action = if *s == Section::Concerns {
            "later"
        } else {
            "continue"
        };
        let mut fields = fields;
        fields.push(("action".into(), action.into()));
        let saved = p.post_section(&copy, s.slug(), &fields).await;
        assert_eq!(saved.status, 303, "{s:?}: {:?}", saved.error_summary());
    }
    let (a, b) = (p.draft(&full).await, p.draft(&copy).await);
    assert_eq!(b, a);
    // And the draft holds what was typed, characters that need escaping included.
    assert_eq!(a.children[0].last_name, "O'Example & Co");
    assert_eq!(
        a.children[0].disability_or_health_needs,
        "Asthma <severe>.\nUses an inhaler."
    );
    assert!(a.children[1].unborn && a.children[0].dob_estimated);
    assert!(a.professionals[0].is_lead_professional && !a.professionals[1].is_lead_professional);
    assert_eq!(
        a.concerns,
        "Mia has been late to school most days this term.\n\nShe says \"it's fine\"."
    );
}

#[tokio::test]
async fn an_empty_draft_renders_every_section_with_one_blank_child() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let d = p.draft(&pid).await;
    for s in FORM_SECTIONS {
        let page = p.get(&format!("/referrals/{pid}/{}", s.slug())).await;
        page.assert_status(200);
        let html = html_of(&page);
        assert_no_leaks(s.slug(), &html);
        save(&format!("section-{}-empty.html", s.slug()), &html);
        for id in input_ids(*s, &d) {
            assert!(html.contains(&format!("id=\"{id}\"")), "{s:?}: no #{id}");
        }
        // Nothing is chosen for the person on a first visit.
        assert!(!html.contains(" checked"), "{s:?}: something ticked");
    }
    let children = p.get(&format!("/referrals/{pid}/children")).await;
    assert_eq!(children.form_value("child-count").as_deref(), Some("1"));
    assert!(children.text_contains("Child 1"));
    assert!(
        !children.body.contains("remove-child-0"),
        "no Remove for the only child"
    );
    let household = p.get(&format!("/referrals/{pid}/household")).await;
    assert_eq!(
        household.form_value("household-count").as_deref(),
        Some("0")
    );
    assert!(household.text_contains("Add a person"));
    let professionals = p.get(&format!("/referrals/{pid}/professionals")).await;
    assert!(professionals.text_contains("Add a professional"));
}

#[tokio::test]
async fn every_child_input_has_autocomplete_off() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    let html = html_of(&p.get(&format!("/referrals/{pid}/children")).await);
    let mut checked = 0;
    for name in ["input", "textarea", "select"] {
        for t in tags(&html, name) {
            let Some(id) = t.attrs.get("id") else {
                continue;
            };
            if !id.starts_with("child-") {
                continue;
            }
            let ty = t.attrs.get("type").map(String::as_str).unwrap_or("text");
            if matches!(ty, "radio" | "checkbox") {
                continue; // covered by the form's autocomplete="off"
            }
            assert_eq!(
                t.attrs.get("autocomplete").map(String::as_str),
                Some("off"),
                "{} #{id}",
                t.name
            );
            checked += 1;
        }
    }
    // 2 children × (13 text inputs/date parts + 3 due parts + 2 textareas + 1 select).
    assert!(checked >= 2 * 18, "only {checked} child inputs found");
    let form = tags(&html, "form")
        .into_iter()
        .find(|t| {
            t.attrs.get("action").map(String::as_str)
                == Some(format!("/referrals/{pid}/children").as_str())
        })
        .unwrap();
    assert_eq!(form.attrs["autocomplete"], "off");
}

#[tokio::test]
async fn the_children_page_has_the_add_another_pattern_every_gender_and_ethnicity() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    let page = p.get(&format!("/referrals/{pid}/children")).await;
    let html = html_of(&page);
    assert_eq!(page.form_value("child-count").as_deref(), Some("2"));
    assert!(html.contains("<h2 class=\"govuk-fieldset__heading\">Child 1</h2>"));
    assert!(html.contains("<h2 class=\"govuk-fieldset__heading\">Child 2</h2>"));
    assert!(html.contains("value=\"remove-child-0\""));
    assert!(html.contains("value=\"remove-child-1\""));
    assert!(html.contains("Remove<span class=\"govuk-visually-hidden\"> child 2</span>"));
    assert!(html.contains("value=\"add-child\""));
    // Enter in a text box must not press "Remove": the first submit button continues.
    let first_button = tags(&html, "button")
        .into_iter()
        .find(|b| {
            b.attrs.get("type").map(String::as_str) == Some("submit")
                && b.attrs.contains_key("name")
        })
        .unwrap();
    assert_eq!(first_button.attrs["value"], "continue");
    // R-12, R-13: exactly these genders; every census ethnicity with its full name.
    assert_eq!(
        page.select("label[for^='child-0-gender']"),
        vec![
            "Female",
            "Gender Dysphoria",
            "Indeterminate",
            "Male",
            "Non-Binary",
            "Transgender",
            "Unborn"
        ]
    );
    let opt = form_options();
    for e in &opt.ethnicities {
        assert!(
            html.contains(&format!("<option value=\"{}\"", e.value))
                && html.contains(&format!(">{}</option>", escaped(e.text))),
            "{}",
            e.value
        );
    }
    assert!(html.contains("<optgroup label=\"Mixed or Multiple ethnic groups\">"));
    assert!(html.contains("<option value=\"MWBA\" selected>White and Black African</option>"));
    assert!(html.contains("For example, 485 777 3456"));
    assert!(html.contains("Is date of birth estimated?"));
    assert!(html.contains("The child is not born yet"));
    assert!(html.contains("Expected due date"));
    assert!(html.contains("data-maxlength=\"5000\""));
    // Typed values are shown again, escaped.
    assert!(html.contains("value=\"O&#x27;Example &amp; Co\""));
    assert!(html.contains("Asthma &lt;severe&gt;."));
}

#[tokio::test]
async fn before_you_start_and_consent_explain_what_they_ask() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    let html = html_of(&p.get(&format!("/referrals/{pid}/before-you-start")).await);
    assert!(html.contains("If a child is in immediate danger, call 999."));
    assert!(html.contains("01632 960999"));
    assert!(html.contains("Does the child already have an allocated social worker?"));
    assert!(html.contains("contact them about your concerns"));
    // Name and contact are shown without JavaScript (no hidden reveal).
    assert!(!html.contains("govuk-radios__conditional"));
    assert!(html.contains("value=\"Priya Worker\""));
    for l in form_options().levels_of_need {
        assert!(html.contains(&escaped(l.text)), "{}", l.text);
        assert!(html.contains(&escaped(l.hint.unwrap())), "{}", l.text);
    }
    let html = html_of(&p.get(&format!("/referrals/{pid}/consent")).await);
    assert!(html.contains(
        "Early Help Service and Early Help Universal Plus need a parent’s or carer’s consent"
    ));
    // The reasons box is always shown, so it works without JavaScript.
    assert!(!html.contains("govuk-radios__conditional"));
    assert!(html.contains("If no, why has consent not been given or asked for?"));
    assert!(html.contains("Mother asked us\nto wait.</textarea>"));
}

#[tokio::test]
async fn the_completed_answer_is_shown_again() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &["concerns"]).await;
    let page = |slug: &'static str| {
        let p = &p;
        let pid = pid.clone();
        async move {
            p.get(&format!("/referrals/{pid}/{slug}"))
                .await
                .form_value("completed")
        }
    };
    assert_eq!(page("concerns").await.as_deref(), Some("no"));
    assert_eq!(page("before-you-start").await.as_deref(), Some("yes"));
    let fresh = p.new_draft("[pid 2]").await;
    assert_eq!(
        p.get(&format!("/referrals/{fresh}/support"))
            .await
            .form_value("completed"),
        None
    );
}

#[tokio::test]
async fn every_validation_error_appears_in_the_summary_and_beside_its_field() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    // Something wrong in every section that can be wrong.
    let too_long = "x".repeat(20_001);
    let bad: Vec<(&str, Vec<(String, String)>)> = vec![
        ("before-you-start", f(&[("allocated-social-worker", "yes")])),
        ("referral-type", f(&[])),
        (
            "children",
            f(&[
                ("child-count", "2"),
                ("child-0-first-name", "Mia"),
                ("child-0-dob-day", "31"),
                ("child-0-dob-month", "2"),
                ("child-0-dob-year", "2015"),
                ("child-0-nhs-number", "123"),
            ]),
        ),
        (
            "household",
            f(&[
                ("household-count", "1"),
                ("household-0-phone", "12"),
                ("household-0-dob-year", "3000"),
            ]),
        ),
        ("referrer", f(&[("organisation-type", "other")])),
        ("professionals", f(&[("professional-count", "1")])),
        ("concerns", f(&[("concerns", &too_long)])),
        ("support", f(&[])),
        ("consent", f(&[("consent", "no")])),
    ];
    let mut seen = 0;
    for (slug, fields) in bad {
        let page = p.post_section(&pid, slug, &fields).await;
        assert_eq!(page.status, 422, "{slug}: accepted");
        let section = Section::from_slug(slug).unwrap();
        let errors = validate_section(section, &p.draft(&pid).await, today());
        assert!(!errors.is_empty(), "{slug}");
        let html = html_of(&page);
        assert!(html.contains("<title>Error: "), "{slug}");
        assert!(html.contains("govuk-error-summary"), "{slug}");
        assert_eq!(
            page.error_summary().len(),
            errors.len(),
            "{slug}: {:?}",
            page.error_summary()
        );
        for e in &errors {
            let message = escaped(&e.message);
            assert!(
                html.contains(&format!("<a href=\"#{}\">{message}</a>", e.field)),
                "{slug}: {} not in the summary",
                e.field
            );
            assert!(
                count(&html, &message) >= 2,
                "{slug}: {} not shown inline",
                e.field
            );
            // The summary link goes to an element that exists.
            assert!(
                html.contains(&format!("id=\"{}\"", e.field)),
                "{slug}: #{}",
                e.field
            );
            seen += 1;
        }
        // The errors are shown again when the section is opened later.
        let again = p.get(&format!("/referrals/{pid}/{slug}")).await;
        assert_eq!(again.error_summary(), page.error_summary(), "{slug}");
        if slug == "children" {
            p.snapshot("section-children-errors", &page);
        }
    }
    assert!(seen >= 15, "only {seen} errors checked");
}

#[tokio::test]
async fn a_date_error_marks_the_date_group() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let fields: Vec<(String, String)> = [
        ("child-count", "1"),
        ("child-0-dob-day", "31"),
        ("child-0-dob-month", "2"),
        ("child-0-dob-year", "2015"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let page = p.post_section(&pid, "children", &fields).await;
    assert_eq!(page.status, 422);
    let html = html_of(&page);
    let errors = validate_section(Section::Children, &p.draft(&pid).await, today());
    let dob = errors
        .iter()
        .find(|e| e.field.starts_with("child-0-dob-"))
        .expect("a date of birth error");
    assert!(html.contains("id=\"child-0-dob-error\""));
    assert!(html.contains(&format!("href=\"#{}\"", dob.field)));
    assert_eq!(page.form_value("child-0-dob-day").as_deref(), Some("31"));
}

// ---------------------------------------------------------------------------
// The other pages.

#[tokio::test]
async fn the_attachments_page_offers_each_file_for_download_with_a_remove_form() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let path = format!("/referrals/{pid}/attachments");
    let empty = p.get(&path).await;
    assert!(empty.text_contains("You have not added any files."));
    // Uploading nothing is an error beside the file input.
    let version = empty.form_value("version").unwrap();
    let nothing = p
        .client
        .post_multipart(
            &path,
            &[("version", &version)],
            ("file", "", "application/octet-stream", Vec::new()),
        )
        .await;
    assert_eq!(nothing.status, 422);
    assert_eq!(nothing.error_summary(), vec!["Select a file to upload"]);
    assert!(html_of(&nothing).contains("id=\"file-error\""));
    p.snapshot("attachments-error", &nothing);

    p.upload(&pid, "Chronology & Mia's notes.pdf").await;
    p.upload(&pid, "Assessment.pdf").await;
    let page = p.get(&path).await;
    let html = html_of(&page);
    assert!(html.contains("enctype=\"multipart/form-data\""));
    assert!(html.contains(
        "id=\"file\" name=\"file\" type=\"file\" accept=\".pdf,.doc,.docx,.png,.jpg,.jpeg,.gif\""
    ));
    assert!(html.contains("smaller than 10 MB"));
    // Each file: its name links to its download, and a form removes it.
    let links = page.select_attr("#attachments a[href]", "href");
    assert_eq!(links.len(), 2, "{links:?}");
    assert_eq!(
        page.select("#attachments a[href]"),
        vec![
            "Chronology & Mia's notes.pdf (download)",
            "Assessment.pdf (download)"
        ]
    );
    assert!(html.contains("Chronology &amp; Mia&#x27;s notes.pdf"));
    for href in &links {
        let download = p.get(href).await;
        download.assert_status(200);
        assert!(download.raw.starts_with(b"%PDF-"));
        let remove = format!("{href}/delete");
        assert!(
            html.contains(&format!("action=\"{remove}\"")),
            "no remove form for {href}"
        );
    }
    let version = format!("name=\"version\" value=\"{}\"", p.version(&pid).await);
    assert_eq!(count(&html, &version), 3);
    assert_eq!(
        page.select_attr("main input[name=csrf_token]", "value")
            .len(),
        3
    );
    assert!(html.contains(&format!("href=\"/referrals/{pid}\"")));
    p.snapshot("attachments", &page);
}

#[tokio::test]
async fn the_task_list_shows_statuses_the_warning_and_links() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let fresh = p.get(&format!("/referrals/{pid}")).await;
    assert!(fresh.text_contains("You have completed 0 of 11 sections."));
    // Three sections completed, one saved for later, one with errors.
    let sections = full_sections();
    for (slug, fields) in sections.iter().take(3) {
        let saved = p.post_section(&pid, slug, fields).await;
        assert_eq!(saved.status, 303, "{slug}");
    }
    let later = vec![
        (
            "support-requested".to_string(),
            "Family support.".to_string(),
        ),
        ("completed".into(), "no".into()),
        ("action".into(), "later".into()),
    ];
    p.post_section(&pid, "support", &later).await;
    let bad = vec![("consent".to_string(), "no".to_string())];
    assert_eq!(p.post_section(&pid, "consent", &bad).await.status, 422);
    let page = p.get(&format!("/referrals/{pid}")).await;
    let html = html_of(&page);
    assert!(html.contains("Make a referral</h1>"));
    assert!(html.contains("If a child is in immediate danger, call 999."));
    assert!(html.contains("You have completed 3 of 11 sections."));
    assert!(html.contains("There is a problem"));
    assert!(html.contains(&format!("href=\"/referrals/{pid}/check\"")));
    assert!(html.contains(&format!("href=\"/referrals/{pid}/pdf\"")));
    assert!(html.contains(&format!("href=\"/referrals/{pid}/delete\"")));
    assert!(html.contains("Delete this draft"));
    assert!(html.contains(&long_date(today() + Duration::days(30))));
    p.snapshot("task-list", &page);
}

#[tokio::test]
async fn check_answers_shows_every_answer_with_change_links_and_a_submit_button() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    p.upload(&pid, "Chronology.pdf").await;
    let page = p.get(&format!("/referrals/{pid}/check")).await;
    page.assert_status(200);
    let html = html_of(&page);
    let summary = ehm_domain::referral::summary(&p.draft(&pid).await);
    for s in &summary {
        assert!(html.contains(&escaped(&s.title)), "{}", s.title);
        let rows = s
            .rows
            .iter()
            .chain(s.groups.iter().flat_map(|g| g.rows.iter()));
        for row in rows {
            assert!(html.contains(&escaped(&row.value)), "{}", row.label);
            let href = format!(
                "/referrals/{pid}/{}?return_to=check#{}",
                s.section.slug(),
                row.field
            );
            assert!(html.contains(&format!("href=\"{href}\"")), "{href}");
        }
        for g in &s.groups {
            assert!(html.contains(&format!(">{}</h3>", escaped(&g.heading))));
        }
    }
    assert!(html.contains(&format!("action=\"/referrals/{pid}/submit\"")));
    assert!(html.contains("Submit referral"));
    assert!(html.contains("data-prevent-double-click=\"true\""));
    assert_eq!(
        page.form_value("version"),
        Some(p.version(&pid).await.to_string())
    );
    assert!(html.contains("app-preserve-line-breaks\">Mia has been late"));
    p.snapshot("check-answers", &page);
}

#[tokio::test]
async fn check_answers_with_problems_links_to_them_and_hides_submit() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    // The second child's ethnicity and the support requested are removed again.
    let mut children = full_sections()
        .into_iter()
        .find(|(s, _)| *s == "children")
        .unwrap()
        .1;
    for (k, v) in children.iter_mut() {
        if k == "child-1-ethnicity" {
            v.clear(); // "Select ethnicity"
        }
    }
    assert_eq!(
        p.post_section(&pid, "children", &children).await.status,
        422
    );
    let support = vec![("support-requested".to_string(), String::new())];
    assert_eq!(p.post_section(&pid, "support", &support).await.status, 422);
    let page = p.get(&format!("/referrals/{pid}/check")).await;
    let html = html_of(&page);
    assert!(html.contains("You cannot submit the referral yet"));
    assert_eq!(
        page.select_attr(".govuk-error-summary__list a", "href"),
        vec![
            format!("/referrals/{pid}/children?return_to=check#child-1-ethnicity"),
            format!("/referrals/{pid}/support?return_to=check#support-requested"),
        ]
    );
    assert_eq!(
        page.error_summary(),
        vec![
            "Child 2: Select the child's ethnicity".to_string(),
            "Enter the support or action you think is needed".to_string()
        ]
    );
    assert!(!html.contains("Submit referral"));
    assert!(!html.contains(&format!("/referrals/{pid}/submit")));
    p.snapshot("check-answers-problems", &page);
}

#[tokio::test]
async fn the_confirmation_and_the_submitted_referral() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    p.fill(&pid, &[]).await;
    p.submit(&pid).await;
    let page = p.get(&format!("/referrals/{pid}/confirmation")).await;
    page.assert_status(200);
    let html = html_of(&page);
    let reference = p
        .store
        .referral_by_public_id(&pid)
        .await
        .unwrap()
        .unwrap()
        .reference
        .expect("a reference");
    assert!(html.contains("govuk-panel--confirmation"));
    assert!(html.contains("Referral submitted"));
    assert!(html.contains(&format!(
        "Your reference number<br><strong class=\"govuk-!-font-size-48\">{reference}</strong>"
    )));
    assert!(html.contains(EMAIL));
    assert!(html.contains("by email or letter"));
    assert!(html.contains("01632 960999"));
    assert!(html.contains(&format!("href=\"/referrals/{pid}\"")));
    assert!(html.contains(&format!("href=\"/referrals/{pid}/pdf\"")));
    p.snapshot("confirmation", &page);

    let view = p.get(&format!("/referrals/{pid}")).await;
    view.assert_status(200);
    let html = html_of(&view);
    assert_eq!(view.h1(), vec![format!("Referral {reference}")]);
    assert!(view.text_contains("Submitted on "));
    assert!(html.contains("Download PDF"));
    assert!(!html.contains(">Change<"));
    assert!(html.contains("Sampletown School Nursing"));
    assert!(!html.contains("will be deleted"));
    assert!(view.select("form[action*='/referrals/']").is_empty());
    p.snapshot("view", &view);
}

#[tokio::test]
async fn the_conflict_page_shows_both_versions_and_reposts_my_answers() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let path = format!("/referrals/{pid}/support");
    let tab_one = p.get(&path).await.form_value("version").unwrap();
    let first = p
        .client
        .post_form(
            &path,
            &[
                ("version", &tab_one),
                ("support-requested", "Parenting course."),
                ("completed", "yes"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(first.status, 303);
    let page = p
        .client
        .post_form(
            &path,
            &[
                ("version", &tab_one),
                ("support-requested", "Family support \"now\".\nSoon."),
                ("completed", "yes"),
                ("action", "later"),
            ],
        )
        .await;
    assert_eq!(page.status, 409);
    let html = html_of(&page);
    assert!(html.contains("This section was changed in another window or tab since you opened it"));
    assert!(html.contains("Parenting course."));
    assert!(html.contains("Use my answers"));
    assert!(html.contains("Keep the saved answers"));
    assert!(html.contains(&format!("href=\"{path}\"")));
    let current = p.get(&path).await.form_value("version").unwrap();
    assert_ne!(current, tab_one);
    let fields = posted_fields(&html, &path);
    assert_eq!(
        fields,
        vec![
            (
                "csrf_token".to_owned(),
                p.client.csrf_token().unwrap().to_owned()
            ),
            ("version".to_owned(), current),
            (
                "support-requested".to_owned(),
                "Family support \"now\".\nSoon.".to_owned()
            ),
            ("completed".to_owned(), "yes".to_owned()),
        ]
    );
    assert!(html.contains("name=\"action\" value=\"continue\""));
    p.snapshot("conflict", &page);
}

#[tokio::test]
async fn the_delete_page_asks_for_confirmation() {
    let p = portal().await;
    let pid = p.new_draft("[pid]").await;
    let page = p.get(&format!("/referrals/{pid}/delete")).await;
    page.assert_status(200);
    let html = html_of(&page);
    assert!(html.contains("Are you sure you want to delete this draft?"));
    assert!(html.contains("You cannot undo this."));
    assert!(html.contains("govuk-button--warning"));
    assert!(html.contains(&format!("action=\"/referrals/{pid}/delete\"")));
    assert!(html.contains("Cancel"));
    p.snapshot("delete", &page);
}

#[tokio::test]
async fn the_referrer_home_lists_drafts_and_submitted_referrals() {
    let p = portal().await;
    let home = p.get("/").await;
    let html = html_of(&home);
    assert!(html.contains("You have no draft referrals."));
    assert!(html.contains("You have not submitted any referrals."));
    assert!(html.contains("Start a new referral"));
    p.snapshot("referrer-home-empty", &home);

    let draft = p.new_draft("[pid]").await;
    p.post_section(&draft, "children", &full_sections()[2].1)
        .await;
    let sent = p.new_draft("[pid 2]").await;
    p.fill(&sent, &[]).await;
    p.submit(&sent).await;
    let home = p.get("/").await;
    let html = html_of(&home);
    assert!(html.contains(
        "<caption class=\"govuk-table__caption govuk-table__caption--m\">Drafts</caption>"
    ));
    assert!(html.contains("Submitted referrals</caption>"));
    assert!(html.contains(&format!(
        "on {} unless you save it again",
        long_date(today() + Duration::days(30))
    )));
    assert!(html.contains(&format!("href=\"/referrals/{draft}\"")));
    assert!(html.contains(&format!("href=\"/referrals/{sent}\"")));
    assert!(html.contains("action=\"/referrals\""));
    p.snapshot("referrer-home", &home);
}

#[tokio::test]
async fn before_go_live_the_referrer_home_says_when_the_portal_opens() {
    let opens = time::macros::datetime!(2099-10-03 00:00 UTC);
    let p = portal_with(Some(opens)).await;
    let home = p.get("/").await;
    home.assert_status(200);
    assert!(home.text_contains("The portal opens for referrals on 3 October 2099"));
    assert!(!home.text_contains("Start a new referral"));
    p.snapshot("referrer-home-before-go-live", &home);
}
