//! Black-box tests of the referral journey through the real routes of the real binary,
//! against SQLite and PostgreSQL, with a real SMTP server and real PDFs read back with
//! poppler's pdftotext.

use ehm_testkit::{Backend, Client, Page, backends};
use std::time::Duration;

mod common;
use common::{
    BIN, Env, PASSWORD, fill, new_draft, nhs_number, reference_in, save, sections, submit, version,
};

async fn start(backend: Backend, extra: &[(&str, &str)]) -> Env {
    let mut env = vec![("EHM_LOGIN_CODE", "false")];
    env.extend_from_slice(extra);
    common::start(backend, &env).await
}

fn create_user(env: &Env, email: &str, role: &str) {
    common::create_user(env, email, role, "Robin Referrer");
}

/// A referrer account, signed in (login codes are off in these tests; the accounts tests
/// cover them).
async fn referrer(env: &Env, email: &str) -> Client {
    create_user(env, email, "referrer");
    sign_in(env, email).await
}

async fn sign_in(env: &Env, email: &str) -> Client {
    let c = env.app.client();
    c.get("/sign-in").await;
    let p = c
        .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some("/"),
        "sign-in failed: {}",
        p.text()
    );
    c
}

/// As [`save`], for a section whose page shows the errors saved with it (status 422).
async fn save_again(c: &Client, draft: &str, slug: &str, fields: &[(&str, String)]) -> Page {
    let path = format!("{draft}/{slug}");
    let page = c.get(&path).await;
    let v = page
        .form_value("version")
        .unwrap_or_else(|| panic!("no version field on {path}: {}", page.text()));
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("version", &v));
    form.push(("completed", "yes"));
    form.push(("action", "continue"));
    c.post_form(&path, &form).await
}

#[tokio::test]
async fn a_full_referral_is_submitted_with_a_reference_and_a_confirmation_email() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "robin.referrer@example.org";
        let c = referrer(&env, email).await;
        let draft = new_draft(&c).await;
        let tasks = c.get(&draft).await;
        tasks.assert_status(200);
        assert!(tasks.text_contains("Not yet started"), "{}", tasks.text());
        fill(&c, &draft, "Amira often arrives hungry.", &nhs_number(4242)).await;
        let tasks = c.get(&draft).await;
        assert!(
            !tasks.text_contains("There is a problem"),
            "{backend:?}: {}",
            tasks.text()
        );
        let check = c.get(&format!("{draft}/check")).await;
        for value in [
            "Amira",
            "Testwell",
            "White and Asian",
            "Nadia Testwell",
            "Dr Quentin Placeholder",
            "MARF-2025-0042",
        ] {
            assert!(check.text_contains(value), "check page lacks {value}");
        }
        let done = submit(&c, &draft).await;
        assert_eq!(
            done.location.as_deref(),
            Some(format!("{draft}/confirmation").as_str()),
            "{}",
            done.text()
        );
        let confirmation = c.get(&format!("{draft}/confirmation")).await;
        let reference = reference_in(&confirmation.text());
        assert!(confirmation.text_contains("Referral submitted"));
        let mail = env
            .smtp
            .wait_for_mail(email, Duration::from_secs(20))
            .await
            .expect("confirmation email");
        assert!(mail.subject.contains(&reference), "{}", mail.subject);
        assert!(
            mail.text.contains(&reference) && mail.text.contains("01632 960000"),
            "{}",
            mail.text
        );
        // Read-only now; a second submit (back button) creates nothing new.
        let again = c
            .post_form(&format!("{draft}/submit"), &[("version", "1")])
            .await;
        assert_eq!(
            again.location.as_deref(),
            Some(format!("{draft}/confirmation").as_str())
        );
        let edit_form = c.get(&format!("{draft}/concerns")).await;
        assert_eq!(
            edit_form.location.as_deref(),
            Some(draft.as_str()),
            "a submitted referral offered an edit form"
        );
        let edit = c
            .post_form(
                &format!("{draft}/concerns"),
                &[
                    ("version", "99"),
                    ("concerns", "changed"),
                    ("action", "continue"),
                ],
            )
            .await;
        assert_eq!(edit.location.as_deref(), Some(draft.as_str()));
        let view = c.get(&draft).await;
        assert!(
            view.text_contains(&reference) && view.text_contains("Amira often arrives hungry.")
        );
        let home = c.get("/").await;
        assert!(
            home.text_contains(&reference),
            "home does not list the submitted referral"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            env.smtp.messages_to(email).len(),
            1,
            "{backend:?}: confirmation sent twice"
        );
    }
}

#[tokio::test]
async fn another_referrer_cannot_see_or_touch_a_draft() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let a = referrer(&env, "owner.one@example.org").await;
        let b = referrer(&env, "other.two@example.org").await;
        let draft = new_draft(&a).await;
        let v = version(&a, &format!("{draft}/concerns")).await;
        for path in [
            draft.clone(),
            format!("{draft}/concerns"),
            format!("{draft}/check"),
            format!("{draft}/pdf"),
            format!("{draft}/attachments"),
            format!("{draft}/delete"),
        ] {
            assert_eq!(
                b.get(&path).await.status,
                404,
                "{backend:?}: B could GET {path}"
            );
        }
        b.get("/").await;
        for path in [
            format!("{draft}/concerns"),
            format!("{draft}/submit"),
            format!("{draft}/delete"),
        ] {
            let p = b
                .post_form(
                    &path,
                    &[
                        ("version", &v),
                        ("concerns", "tampered"),
                        ("action", "continue"),
                    ],
                )
                .await;
            assert_eq!(p.status, 404, "{backend:?}: B could POST {path}");
        }
        // Staff cannot edit a referrer's draft either; anonymous visitors are sent to sign in.
        let anon = env.app.client();
        assert_eq!(anon.get(&draft).await.location.as_deref(), Some("/sign-in"));
        // A's draft is untouched.
        assert!(
            !a.get(&format!("{draft}/concerns"))
                .await
                .text_contains("tampered")
        );
    }
}

#[tokio::test]
async fn the_later_of_two_tabs_is_told_and_shown_both_versions() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "two.tabs@example.org").await;
    let draft = new_draft(&c).await;
    let path = format!("{draft}/concerns");
    let v = version(&c, &path).await;
    let first = c
        .post_form(
            &path,
            &[
                ("version", &v),
                ("concerns", "Written in tab one"),
                ("action", "later"),
            ],
        )
        .await;
    assert_eq!(first.status, 303);
    let second = c
        .post_form(
            &path,
            &[
                ("version", &v),
                ("concerns", "Written in tab two"),
                ("action", "later"),
            ],
        )
        .await;
    assert_eq!(second.status, 409);
    assert!(
        second.text_contains("Written in tab one") && second.text_contains("Written in tab two"),
        "{}",
        second.text()
    );
    // The saved version was not overwritten; choosing "use my answers" then saves tab two.
    assert!(c.get(&path).await.text_contains("Written in tab one"));
    let current = second
        .form_value("version")
        .expect("a form to use my answers");
    let keep = c
        .post_form(
            &path,
            &[
                ("version", &current),
                ("concerns", "Written in tab two"),
                ("action", "later"),
            ],
        )
        .await;
    assert_eq!(keep.status, 303);
    assert!(c.get(&path).await.text_contains("Written in tab two"));
}

#[tokio::test]
async fn bad_answers_get_specific_errors_and_typed_values_are_kept() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "typo.prone@example.org").await;
    let draft = new_draft(&c).await;
    let p = save(
        &c,
        &draft,
        "children",
        &[
            ("child-count", "1".into()),
            ("child-0-first-name", "Amira".into()),
            ("child-0-last-name", "Testwell".into()),
            ("child-0-dob-day", "31".into()),
            ("child-0-dob-month", "2".into()),
            ("child-0-dob-year", "2016".into()),
            ("child-0-nhs-number", "123 456 7890".into()),
        ],
    )
    .await;
    assert_eq!(p.status, 422, "{}", p.text());
    let summary = p.error_summary().join(" | ");
    assert!(summary.contains("real date"), "{summary}");
    assert!(summary.contains("NHS number"), "{summary}");
    assert!(summary.to_lowercase().contains("ethnicity"), "{summary}");
    assert_eq!(
        p.form_value("child-0-nhs-number").as_deref(),
        Some("123 456 7890")
    );
    assert_eq!(p.form_value("child-0-dob-day").as_deref(), Some("31"));
    // Early Help without consent is refused with the reason, even when the reasons for
    // no consent are given; the same answers are fine for Children's Social Care.
    let early_help_rule = "Early Help referrals need parental consent. If you do not have consent, choose Children's Social Care as the referral type";
    let no_consent = [
        ("parents-aware", "yes".to_string()),
        ("consent", "no".to_string()),
        (
            "consent-reasons",
            "Asking would put the child at risk.".to_string(),
        ),
    ];
    for service in ["early-help-service", "early-help-universal-plus"] {
        let t = save(
            &c,
            &draft,
            "referral-type",
            &[("referral-type", service.into())],
        )
        .await;
        assert_eq!(t.status, 303, "{service}: {:?}", t.error_summary());
        let p = save_again(&c, &draft, "consent", &no_consent).await;
        assert_eq!(p.status, 422, "{service}: no consent accepted");
        assert_eq!(p.error_summary(), vec![early_help_rule], "{service}");
        assert_eq!(
            p.select_attr(".govuk-error-summary__list a", "href"),
            vec!["#consent"]
        );
        assert_eq!(
            p.select("#consent-error"),
            vec![format!("Error: {early_help_rule}")],
            "{service}: not shown beside the consent question"
        );
        assert_eq!(
            p.form_value("consent-reasons").as_deref(),
            Some("Asking would put the child at risk.")
        );
    }
    let t = save(
        &c,
        &draft,
        "referral-type",
        &[("referral-type", "childrens-social-care".into())],
    )
    .await;
    assert_eq!(t.status, 303);
    let p = save_again(&c, &draft, "consent", &no_consent).await;
    assert_eq!(
        p.status,
        303,
        "no consent refused for Children's Social Care: {:?}",
        p.error_summary()
    );
    // Nothing typed was lost: the draft holds the bad values to correct.
    assert_eq!(
        c.get(&format!("{draft}/children"))
            .await
            .form_value("child-0-nhs-number")
            .as_deref(),
        Some("123 456 7890")
    );
    // Submitting is refused and the check page lists the problems.
    let check = c.get(&format!("{draft}/check")).await;
    assert!(
        check.form_value("version").is_none(),
        "an incomplete referral could be submitted"
    );
}

#[tokio::test]
async fn the_pdf_holds_every_field_and_twenty_thousand_characters_of_concerns() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "pdf.maker@example.org").await;
    let draft = new_draft(&c).await;
    let words: Vec<String> = (1..=2858).map(|i| format!("w{i:05}")).collect();
    let mut concerns = words.join(" ");
    concerns.truncate(20_000);
    assert_eq!(concerns.chars().count(), 20_000);
    let nhs = nhs_number(777);
    fill(&c, &draft, &concerns, &nhs).await;
    let res = c.get(&format!("{draft}/pdf")).await;
    res.assert_status(200);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/pdf")
    );
    let dir = std::env::temp_dir().join(format!("ehm-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("referral.pdf");
    std::fs::write(&pdf, &res.raw).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Page headers and footers interrupt the flow of text at each page break, so compare
    // the sequence of numbered words: all of them, in order, none missing or repeated.
    let numbered =
        |w: &&str| w.len() == 6 && w.starts_with('w') && w[1..].chars().all(|c| c.is_ascii_digit());
    let expected: Vec<&str> = concerns.split_whitespace().filter(numbered).collect();
    assert!(expected.len() > 2800);
    let found: Vec<&str> = flat.split(' ').filter(numbered).collect();
    if found.len() != expected.len() {
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|w| !found.contains(w))
            .take(10)
            .collect();
        panic!(
            "the PDF holds {} of {} words of the concerns; missing e.g. {missing:?}",
            found.len(),
            expected.len()
        );
    }
    assert!(
        found == expected,
        "the concerns text is not whole and in order in the PDF"
    );
    for (_, fields) in sections("", &nhs) {
        for (name, value) in fields {
            if name.ends_with("-count")
                || value.len() < 3
                || ["yes", "no"].contains(&value.as_str())
                || name.contains("dob-")
                || name.ends_with("type")
                || name.ends_with("relationship")
                || name.ends_with("gender")
                || name.ends_with("ethnicity")
                || name.ends_with("need")
                || name.ends_with("-worker")
            {
                continue; // codes are shown by their labels, dates as dates, counts not at all
            }
            let v: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
            let v = if name.ends_with("nhs-number") {
                format!("{} {} {}", &v[..3], &v[3..6], &v[6..])
            } else if name.ends_with("postcode") {
                "AB1 2XY".into()
            } else {
                v
            };
            assert!(flat.contains(&v), "PDF lacks {name} = {v}");
        }
    }
    for label in [
        "White and Asian",
        "Female",
        "Early Help Service",
        "OFFICIAL-SENSITIVE",
        "Draft",
    ] {
        assert!(flat.contains(label), "PDF lacks {label}");
    }
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages: u32 = info
        .lines()
        .find(|l| l.starts_with("Pages:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(pages > 1, "{pages} page(s)");
    assert!(
        flat.contains(&format!("Page {pages} of {pages}")),
        "no 'page x of y' footer"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn purge_deletes_a_draft_thirty_days_and_a_minute_after_its_last_save_and_not_before() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let c = referrer(&env, "purge.test@example.org").await;
        let draft = new_draft(&c).await;
        let p = save(
            &c,
            &draft,
            "concerns",
            &[("concerns", "Kept for thirty days".into())],
        )
        .await;
        assert_eq!(p.status, 303);
        let saved = time::OffsetDateTime::now_utc();
        let home = c.get("/").await;
        let deletion = (saved + time::Duration::days(30)).date();
        let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
        assert!(
            home.text_contains(&deletion.format(&f).unwrap()),
            "home does not show the deletion date: {}",
            home.text()
        );
        // Every section page says so too.
        let section = c.get(&format!("{draft}/concerns")).await;
        let inset = format!(
            "It will be deleted on {} unless you save it again.",
            deletion.format(&f).unwrap()
        );
        assert!(
            section.text_contains(&inset),
            "the section page does not show the deletion date: {}",
            section.text()
        );
        let purge = |at: time::OffsetDateTime| {
            let out = std::process::Command::new(BIN)
                .args([
                    "purge",
                    "--now",
                    &at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap(),
                ])
                .env("EHM_DATABASE_URL", &env.db.url)
                .env("EHM_DATA_DIR", env.app.data_dir())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let early = purge(saved + time::Duration::days(29) + time::Duration::hours(23));
        assert!(early.contains("Purged 0 drafts"), "{early}");
        // (The purge also ended the session, which the moved clock saw as a day old.)
        let c = sign_in(&env, "purge.test@example.org").await;
        assert_eq!(
            c.get(&draft).await.status,
            200,
            "{backend:?}: deleted too early"
        );
        let late = purge(saved + time::Duration::days(30) + time::Duration::minutes(1));
        assert!(late.contains("Purged 1 drafts"), "{late}");
        let c = sign_in(&env, "purge.test@example.org").await;
        assert_eq!(
            c.get(&draft).await.status,
            404,
            "{backend:?}: draft survived its retention"
        );
    }
}

/// A well-formed PDF (one blank page) of exactly `size` bytes: the page's content stream
/// is padded with spaces, and the cross-reference table points at the real offsets.
fn pdf_of_size(size: usize) -> Vec<u8> {
    let build = |padding: usize| {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
        ];
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        offsets.push(out.len());
        out.extend_from_slice(format!("4 0 obj\n<< /Length {padding} >>\nstream\n").as_bytes());
        out.resize(out.len() + padding, b' ');
        out.extend_from_slice(b"\nendstream\nendobj\n");
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
        for o in &offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    };
    let mut padding = size.saturating_sub(build(0).len());
    loop {
        let pdf = build(padding);
        match pdf.len().cmp(&size) {
            std::cmp::Ordering::Equal => return pdf,
            std::cmp::Ordering::Greater => padding -= pdf.len() - size,
            std::cmp::Ordering::Less => padding += size - pdf.len(),
        }
    }
}

/// `pdfinfo` reads the file as a PDF (so a refusal cannot be about its type).
fn assert_real_pdf(bytes: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) must be installed");
    let out = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success()
            && out
                .lines()
                .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 1")),
        "{name} is not a readable PDF: {out} {}",
        String::from_utf8_lossy(&info.stderr)
    );
}

#[tokio::test]
async fn attachments_are_checked_by_content_and_size() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "files.person@example.org").await;
    let draft = new_draft(&c).await;
    let path = format!("{draft}/attachments");
    let page = c.get(&path).await;
    page.assert_status(200);
    let v = page.form_value("version").unwrap_or_else(|| "1".into());
    let pdf = pdf_of_size(2_000);
    assert_real_pdf(&pdf, "chronology.pdf");
    let ok = c
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "chronology.pdf", "application/pdf", pdf.clone()),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    let listed = c.get(&path).await;
    assert!(listed.text_contains("chronology.pdf"));
    // Each file is offered for download, and the link gives back the bytes uploaded.
    let links = listed.select_attr("#attachments a[href]", "href");
    assert_eq!(links.len(), 1, "no download link: {}", listed.body);
    assert!(
        links[0].starts_with(&format!("{draft}/attachments/")),
        "{links:?}"
    );
    assert_eq!(
        listed.select("#attachments a[href]")[0].trim(),
        "chronology.pdf (download)"
    );
    let download = c.get(&links[0]).await;
    download.assert_status(200);
    assert_eq!(
        download.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert!(
        download
            .header("content-disposition")
            .unwrap_or_default()
            .contains("chronology.pdf"),
        "{:?}",
        download.header("content-disposition")
    );
    assert!(download.raw == pdf, "the download differs from the upload");
    // Another referrer cannot download it.
    let other = referrer(&env, "someone.else@example.org").await;
    assert_eq!(other.get(&links[0]).await.status, 404);

    let v = listed.form_value("version").unwrap_or_default();
    let exe = b"MZ\x90\x00\x03\x00\x00\x00fake program".to_vec();
    let bad = c
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "report.pdf", "application/pdf", exe),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.error_summary().join(" ").contains("must be a PDF"),
        "{:?}",
        bad.error_summary()
    );
    // A real PDF one byte over 10 MB is refused for its size (and only for its size: the
    // same document at exactly 10 MB is accepted).
    let limit = 10 * 1024 * 1024;
    let too_big_pdf = pdf_of_size(limit + 1);
    assert_real_pdf(&too_big_pdf, "big.pdf");
    let v = version(&c, &path).await;
    let too_big = c
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "big.pdf", "application/pdf", too_big_pdf),
        )
        .await;
    assert_eq!(too_big.status, 422, "{}", too_big.text());
    assert_eq!(
        too_big.error_summary(),
        vec!["The selected file must be smaller than 10 MB"]
    );
    assert!(
        too_big
            .select("#file-error")
            .join(" ")
            .contains("The selected file must be smaller than 10 MB"),
        "no inline message"
    );
    let at_limit = c
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "big.pdf", "application/pdf", pdf_of_size(limit)),
        )
        .await;
    assert_eq!(at_limit.status, 303, "{:?}", at_limit.error_summary());
    let store = common::store(&env).await;
    assert_eq!(
        store
            .count(ehm_storage::Counted::Attachments)
            .await
            .unwrap(),
        2,
        "the file over the limit was stored"
    );
    // Without the CSRF token an upload is refused.
    let forged = c
        .post_multipart(
            &path,
            &[("version", &v), ("csrf_token", "forged")],
            ("file", "c.pdf", "application/pdf", pdf),
        )
        .await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn answers_posted_after_the_session_timed_out_are_saved_after_signing_in_again() {
    let env = start(Backend::Sqlite, &[("EHM_SESSION_IDLE_SECONDS", "2")]).await;
    let email = "slow.typist@example.org";
    let c = referrer(&env, email).await;
    let draft = new_draft(&c).await;
    let path = format!("{draft}/concerns");
    let v = version(&c, &path).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let late = c
        .post_form(
            &path,
            &[
                ("version", &v),
                ("concerns", "Typed slowly, must not be lost"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(late.status, 303);
    assert_eq!(late.location.as_deref(), Some("/sign-in?timeout=1"));
    let sign_in = c.get("/sign-in?timeout=1").await;
    assert!(
        sign_in.text_contains("We have kept the answers"),
        "{}",
        sign_in.text()
    );
    let p = c
        .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(p.location.as_deref(), Some("/referrals/kept-answers"));
    let applied = c.get("/referrals/kept-answers").await;
    assert_eq!(applied.status, 303, "{}", applied.text());
    assert!(
        c.get(&path)
            .await
            .text_contains("Typed slowly, must not be lost")
    );
}

#[tokio::test]
async fn the_eleventh_attachment_is_refused_at_upload() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "many.files@example.org").await;
    let draft = new_draft(&c).await;
    let path = format!("{draft}/attachments");
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    for i in 0..10 {
        let v = version(&c, &path).await;
        let p = c
            .post_multipart(
                &path,
                &[("version", &v)],
                (
                    "file",
                    &format!("note-{i}.pdf"),
                    "application/pdf",
                    pdf.clone(),
                ),
            )
            .await;
        assert_eq!(p.status, 303, "file {i}: {:?}", p.error_summary());
    }
    let v = version(&c, &path).await;
    let p = c
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "note-11.pdf", "application/pdf", pdf.clone()),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.error_summary().join(" ").contains("up to 10 files"),
        "{:?}",
        p.error_summary()
    );
    let store = common::store(&env).await;
    assert_eq!(
        store
            .count(ehm_storage::Counted::Attachments)
            .await
            .unwrap(),
        10
    );
}

#[tokio::test]
async fn a_referrer_can_have_at_most_fifty_drafts_and_is_told_so() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "busy.drafter@example.org").await;
    for _ in 0..50 {
        new_draft(&c).await;
    }
    c.get("/").await.assert_status(200);
    let p = c.post_form("/referrals", &[]).await;
    assert_eq!(p.location.as_deref(), Some("/"));
    let home = c.get("/").await;
    assert!(
        home.text_contains("the most you can have at once"),
        "{}",
        home.text()
    );
    let store = common::store(&env).await;
    assert_eq!(
        store.count(ehm_storage::Counted::Referrals).await.unwrap(),
        50
    );
}

/// Post a section after the session has timed out: the answers are kept.
async fn post_late(c: &Client, draft: &str, text: &str) {
    let path = format!("{draft}/concerns");
    let v = version(c, &path).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let late = c
        .post_form(
            &path,
            &[("version", &v), ("concerns", text), ("action", "continue")],
        )
        .await;
    assert_eq!(late.location.as_deref(), Some("/sign-in?timeout=1"));
}

#[tokio::test]
async fn kept_answers_go_with_their_draft_when_it_is_deleted_or_purged() {
    for backend in backends() {
        let env = start(backend, &[("EHM_SESSION_IDLE_SECONDS", "2")]).await;
        let email = "kept.answers@example.org";
        let store = common::store(&env).await;
        let c = referrer(&env, email).await;
        let draft = new_draft(&c).await;
        post_late(&c, &draft, "Kept, then the draft is deleted").await;
        assert_eq!(
            store
                .count(ehm_storage::Counted::PendingSaves)
                .await
                .unwrap(),
            1
        );
        // Signing in offers the kept answers; the referrer deletes the draft instead.
        let c = env.app.client();
        c.get("/sign-in").await;
        let p = c
            .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(p.location.as_deref(), Some("/referrals/kept-answers"));
        c.get(&format!("{draft}/delete")).await.assert_status(200);
        let p = c.post_form(&format!("{draft}/delete"), &[]).await;
        assert_eq!(p.location.as_deref(), Some("/"));
        assert_eq!(
            store
                .count(ehm_storage::Counted::PendingSaves)
                .await
                .unwrap(),
            0,
            "{backend:?}: kept answers outlived their deleted draft"
        );

        // Kept answers of a draft that reaches its retention date go with it.
        let draft = new_draft(&c).await;
        post_late(&c, &draft, "Kept, then the draft is purged").await;
        assert_eq!(
            store
                .count(ehm_storage::Counted::PendingSaves)
                .await
                .unwrap(),
            1
        );
        let at = time::OffsetDateTime::now_utc() + time::Duration::days(31);
        let out = std::process::Command::new(BIN)
            .args([
                "purge",
                "--now",
                &at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            ])
            .env("EHM_DATABASE_URL", &env.db.url)
            .env("EHM_DATA_DIR", env.app.data_dir())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            store
                .count(ehm_storage::Counted::PendingSaves)
                .await
                .unwrap(),
            0,
            "{backend:?}: kept answers outlived their purged draft"
        );
    }
}

#[tokio::test]
async fn the_confirmation_goes_to_the_address_in_the_referrer_section_and_the_account() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let account = "acct.holder@example.org";
        let given = "duty.desk@example.org";
        let c = referrer(&env, account).await;
        let draft = new_draft(&c).await;
        for (slug, mut fields) in sections("Concerns about Amira.", &nhs_number(777)) {
            for (k, v) in fields.iter_mut() {
                if *k == "referrer-email" {
                    *v = given.to_string();
                }
            }
            let p = save(&c, &draft, slug, &fields).await;
            assert_eq!(p.status, 303, "{slug}: {:?}", p.error_summary());
        }
        let done = submit(&c, &draft).await;
        let confirmation = c.get(done.location.as_deref().unwrap()).await;
        assert!(confirmation.text_contains(given), "{}", confirmation.text());
        assert!(
            confirmation.text_contains(account),
            "{}",
            confirmation.text()
        );
        let reference = reference_in(&confirmation.text());
        for to in [given, account] {
            let mail = env
                .smtp
                .wait_for_mail(to, Duration::from_secs(20))
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: no confirmation to {to}: {e}"));
            assert!(mail.subject.contains(&reference), "{}", mail.subject);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Loose ends of the journey (issue 8, item 6).

async fn fill_sections(
    c: &Client,
    draft: &str,
    all: Vec<(&'static str, Vec<(&'static str, String)>)>,
) {
    for (slug, fields) in all {
        let p = save(c, draft, slug, &fields).await;
        assert_eq!(
            p.status,
            303,
            "section {slug} not accepted: {:?}",
            p.error_summary()
        );
    }
}

/// The text of a PDF served at `path`, whitespace collapsed (poppler's pdftotext).
async fn pdf_text(c: &Client, path: &str) -> String {
    let res = c.get(path).await;
    res.assert_status(200);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/pdf")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("referral.pdf");
    std::fs::write(&file, &res.raw).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(out.status.success(), "pdftotext could not read the PDF");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn long_date(d: time::Date) -> String {
    let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    d.format(&f).unwrap()
}

/// The fields of one child of the children section, as the browser posts them.
fn child_fields(
    i: usize,
    first: &str,
    last: &str,
    dob: (u8, u8, i32),
    nhs: &str,
) -> Vec<(String, String)> {
    let n = |s: &str| format!("child-{i}-{s}");
    vec![
        (n("first-name"), first.into()),
        (n("last-name"), last.into()),
        (n("dob-day"), dob.0.to_string()),
        (n("dob-month"), dob.1.to_string()),
        (n("dob-year"), dob.2.to_string()),
        (n("gender"), "male".into()),
        (n("ethnicity"), "WBRI".into()),
        (n("nhs-number"), nhs.into()),
        (n("school"), "Sampleton Juniors".into()),
    ]
}

#[tokio::test]
async fn change_links_on_check_answers_lead_back_to_check_answers_after_saving() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "change.links@example.org").await;
    let draft = new_draft(&c).await;
    fill(&c, &draft, "Amira often arrives hungry.", &nhs_number(1200)).await;
    let check = c.get(&format!("{draft}/check")).await;
    check.assert_status(200);
    let links = check.select_attr(".govuk-summary-list__actions a", "href");
    assert!(links.len() > 30, "only {} change links", links.len());
    for href in &links {
        assert!(
            href.starts_with(&format!("{draft}/")) && href.contains("?return_to=check#"),
            "a change link that does not come back: {href}"
        );
    }
    // Change the concerns: the section page carries return_to, and saving goes to check.
    let href = links
        .iter()
        .find(|h| h.ends_with("#concerns"))
        .expect("a change link for the concerns");
    let path = href.split('#').next().unwrap();
    let section = c.get(path).await;
    section.assert_status(200);
    assert_eq!(section.form_value("return_to").as_deref(), Some("check"));
    let v = section.form_value("version").unwrap();
    let concerns_fields = [
        ("version", v.as_str()),
        ("return_to", "check"),
        ("concerns", "Changed from the check page."),
        ("what-has-been-done", "Met the family twice."),
        ("completed", "yes"),
        ("action", "continue"),
    ];
    let saved = c
        .post_form(&format!("{draft}/concerns"), &concerns_fields)
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("{draft}/check").as_str()),
        "saving a section reached from check answers did not go back there: {}",
        saved.text()
    );
    let check = c.get(&format!("{draft}/check")).await;
    assert!(check.text_contains("Changed from the check page."));
    // With an error the page is shown again, still on its way back to check answers;
    // once corrected, saving goes to check answers.
    let path = format!("{draft}/children?return_to=check");
    let v = version(&c, &path).await;
    let mut fields: Vec<(String, String)> = vec![
        ("version".into(), v),
        ("return_to".into(), "check".into()),
        ("child-count".into(), "1".into()),
        ("completed".into(), "yes".into()),
        ("action".into(), "continue".into()),
    ];
    fields.extend(child_fields(0, "Amira", "Testwell", (31, 2, 2016), ""));
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bad = c.post_form(&format!("{draft}/children"), &form).await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert_eq!(bad.form_value("return_to").as_deref(), Some("check"));
    let v = bad.form_value("version").unwrap();
    for (k, val) in fields.iter_mut() {
        if k == "version" {
            *val = v.clone();
        }
        if k == "child-0-dob-day" {
            *val = "14".into();
        }
    }
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let good = c.post_form(&format!("{draft}/children"), &form).await;
    assert_eq!(
        good.location.as_deref(),
        Some(format!("{draft}/check").as_str()),
        "{:?}",
        good.error_summary()
    );
    // "Add another child" stays on the page and keeps the way back.
    let v = version(&c, &format!("{draft}/children?return_to=check")).await;
    let mut form = form.clone();
    for (k, val) in form.iter_mut() {
        if *k == "version" {
            *val = &v;
        }
        if *k == "action" {
            *val = "add-child";
        }
    }
    let added = c.post_form(&format!("{draft}/children"), &form).await;
    assert_eq!(
        added.location.as_deref(),
        Some(format!("{draft}/children?editing=1&return_to=check").as_str())
    );
    // Without return_to, saving goes to the task list as before.
    let v = version(&c, &format!("{draft}/support")).await;
    let p = c
        .post_form(
            &format!("{draft}/support"),
            &[
                ("version", &v),
                ("support-requested", "A family support worker."),
                ("completed", "yes"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some(draft.as_str()));
}

#[tokio::test]
async fn an_unborn_child_with_a_due_date_is_referred_and_shown_on_check_answers_and_in_the_pdf() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let c = referrer(&env, "midwife.referrer@example.org").await;
        let draft = new_draft(&c).await;
        let today = time::OffsetDateTime::now_utc().date();
        let due = today + time::Duration::days(60);
        let unborn = |due: time::Date| {
            let s = |v: &str| v.to_string();
            vec![
                ("child-count", s("1")),
                ("child-0-first-name", s("")),
                ("child-0-last-name", s("Testwell")),
                ("child-0-unborn", s("yes")),
                ("child-0-due-day", due.day().to_string()),
                ("child-0-due-month", (due.month() as u8).to_string()),
                ("child-0-due-year", due.year().to_string()),
                ("child-0-gender", s("unborn")),
                ("child-0-ethnicity", s("NOBT")),
                ("child-0-address", s("12 Fictional Road\nSampleton")),
            ]
        };
        // A due date in the past is refused beside the due date.
        let p = save(
            &c,
            &draft,
            "children",
            &unborn(today - time::Duration::days(1)),
        )
        .await;
        assert_eq!(p.status, 422, "{backend:?}: a past due date was accepted");
        assert!(
            p.error_summary()
                .join(" ")
                .contains("must be today or in the future"),
            "{:?}",
            p.error_summary()
        );
        let p = save_again(&c, &draft, "children", &unborn(due)).await;
        assert_eq!(p.status, 303, "{backend:?}: {:?}", p.error_summary());
        fill_sections(
            &c,
            &draft,
            sections("Mother is 20 weeks pregnant and has nowhere to live.", "")
                .into_iter()
                .filter(|(s, _)| *s != "children")
                .collect(),
        )
        .await;
        let check = c.get(&format!("{draft}/check")).await;
        check.assert_status(200);
        // The child's answers: the text between its heading and the next one.
        let text = check.text();
        let from = text.find("Child 1").expect("the child's answers");
        let to = from + text[from..].find("Parent or carer 1").unwrap();
        let child = &text[from..to];
        assert!(
            child.contains("Has the child been born? No, unborn"),
            "{child}"
        );
        assert!(
            child.contains(&format!("Expected due date {}", long_date(due))),
            "{child}"
        );
        assert!(
            !child.contains("Date of birth"),
            "{backend:?}: an unborn child shown with a date of birth: {child}"
        );
        let done = submit(&c, &draft).await;
        assert_eq!(
            done.location.as_deref(),
            Some(format!("{draft}/confirmation").as_str()),
            "{backend:?}: the referral of an unborn child was not submitted: {}",
            done.text()
        );
        let confirmation = c.get(&format!("{draft}/confirmation")).await;
        let reference = reference_in(&confirmation.text());
        let pdf = pdf_text(&c, &format!("{draft}/pdf")).await;
        for expected in [
            reference.as_str(),
            "Expected due date",
            &long_date(due),
            "No, unborn",
            "Testwell",
        ] {
            assert!(pdf.contains(expected), "{backend:?}: PDF lacks {expected}");
        }
    }
}

#[tokio::test]
async fn several_children_are_referred_on_one_referral() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let c = referrer(&env, "sibling.referrer@example.org").await;
        let draft = new_draft(&c).await;
        let (nhs_a, nhs_b) = (nhs_number(3101), nhs_number(3202));
        // One child, then "Add another child": a second, blank child to fill in.
        let path = format!("{draft}/children");
        let v = version(&c, &path).await;
        let mut fields = vec![
            ("version".to_string(), v),
            ("child-count".into(), "1".into()),
            ("action".into(), "add-child".into()),
        ];
        fields.extend(child_fields(0, "Amira", "Testwell", (14, 2, 2016), &nhs_a));
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let added = c.post_form(&path, &form).await;
        let again = format!("{path}?editing=1");
        assert_eq!(added.location.as_deref(), Some(again.as_str()));
        // The new blank child is to be filled in, not an error yet.
        let page = c.get(&again).await;
        page.assert_status(200);
        assert!(
            page.error_summary().is_empty(),
            "{:?}",
            page.error_summary()
        );
        assert_eq!(page.form_value("child-count").as_deref(), Some("2"));
        assert_eq!(
            page.form_value("child-0-first-name").as_deref(),
            Some("Amira")
        );
        assert_eq!(page.form_value("child-1-first-name").as_deref(), Some(""));
        let mut fields = vec![
            ("version".to_string(), page.form_value("version").unwrap()),
            ("child-count".into(), "2".into()),
            ("completed".into(), "yes".into()),
            ("action".into(), "continue".into()),
        ];
        fields.extend(child_fields(0, "Amira", "Testwell", (14, 2, 2016), &nhs_a));
        fields.extend(child_fields(1, "Bilal", "Testwell", (2, 11, 2019), &nhs_b));
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let saved = c.post_form(&path, &form).await;
        assert_eq!(
            saved.location.as_deref(),
            Some(draft.as_str()),
            "{backend:?}: {:?}",
            saved.error_summary()
        );
        fill_sections(
            &c,
            &draft,
            sections("Both children arrive hungry.", "")
                .into_iter()
                .filter(|(s, _)| *s != "children")
                .collect(),
        )
        .await;
        let check = c.get(&format!("{draft}/check")).await;
        assert_eq!(
            check.select("h3"),
            vec![
                "Child 1",
                "Child 2",
                "Parent or carer 1",
                "Your details",
                "Your organisation",
                "Professional 1"
            ],
            "{backend:?}"
        );
        for name in ["Amira", "Bilal", "2 November 2019", "14 February 2016"] {
            assert!(check.text_contains(name), "{backend:?}: check lacks {name}");
        }
        let done = submit(&c, &draft).await;
        assert_eq!(
            done.location.as_deref(),
            Some(format!("{draft}/confirmation").as_str())
        );
        let home = c.get("/").await;
        assert!(
            home.text_contains("Referral for Amira Testwell, Bilal Testwell"),
            "{backend:?}: {}",
            home.text()
        );
        let pdf = pdf_text(&c, &format!("{draft}/pdf")).await;
        for expected in [
            "Child 1",
            "Child 2",
            "Amira",
            "Bilal",
            &format!("{} {} {}", &nhs_a[..3], &nhs_a[3..6], &nhs_a[6..]),
            &format!("{} {} {}", &nhs_b[..3], &nhs_b[3..6], &nhs_b[6..]),
        ] {
            assert!(pdf.contains(expected), "{backend:?}: PDF lacks {expected}");
        }
    }
}

#[tokio::test]
async fn a_referrer_deletes_their_own_draft_and_its_attachments_go_with_it() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let store = common::store(&env).await;
        let count = |what| {
            let store = store.clone();
            async move { store.count(what).await.unwrap() }
        };
        let c = referrer(&env, "tidy.referrer@example.org").await;
        let kept = new_draft(&c).await;
        let draft = new_draft(&c).await;
        let path = format!("{draft}/attachments");
        for name in ["chronology.pdf", "assessment.pdf"] {
            let v = version(&c, &path).await;
            let p = c
                .post_multipart(
                    &path,
                    &[("version", &v)],
                    ("file", name, "application/pdf", pdf_of_size(3_000)),
                )
                .await;
            assert_eq!(p.status, 303, "{:?}", p.error_summary());
        }
        let v = version(&c, &format!("{kept}/attachments")).await;
        let p = c
            .post_multipart(
                &format!("{kept}/attachments"),
                &[("version", &v)],
                ("file", "kept.pdf", "application/pdf", pdf_of_size(3_000)),
            )
            .await;
        assert_eq!(p.status, 303);
        let download = c
            .get(&path)
            .await
            .select_attr("#attachments a[href]", "href");
        assert_eq!(download.len(), 2);
        assert_eq!(count(ehm_storage::Counted::Referrals).await, 2);
        assert_eq!(count(ehm_storage::Counted::Attachments).await, 3);

        let confirm = c.get(&format!("{draft}/delete")).await;
        confirm.assert_status(200);
        assert!(confirm.text_contains("Are you sure you want to delete this draft?"));
        let deleted = c.post_form(&format!("{draft}/delete"), &[]).await;
        assert_eq!(deleted.location.as_deref(), Some("/"));
        let home = c.get("/").await;
        assert!(home.text_contains("Your draft has been deleted."));
        assert_eq!(
            count(ehm_storage::Counted::Referrals).await,
            1,
            "{backend:?}: the draft is still in the database"
        );
        assert_eq!(
            count(ehm_storage::Counted::Attachments).await,
            1,
            "{backend:?}: the draft's attachments are still in the database"
        );
        let pid = draft.trim_start_matches("/referrals/");
        assert!(store.referral_by_public_id(pid).await.unwrap().is_none());
        for gone in [
            draft.clone(),
            format!("{draft}/check"),
            path.clone(),
            download[0].clone(),
        ] {
            assert_eq!(c.get(&gone).await.status, 404, "{backend:?}: {gone}");
        }
        // A second delete (back button) finds nothing; the other draft is untouched.
        c.get(&kept).await.assert_status(200);
        assert_eq!(
            c.post_form(&format!("{draft}/delete"), &[]).await.status,
            404
        );
        c.get(&format!("{kept}/attachments"))
            .await
            .assert_status(200);
        assert_eq!(count(ehm_storage::Counted::Referrals).await, 1);
    }
}

/// The app on this database and data folder, with `EHM_GO_LIVE` when given.
async fn spawn_on(
    db: &ehm_testkit::TestDb,
    smtp: &ehm_testkit::SmtpSink,
    data: &std::path::Path,
    go_live: Option<&str>,
) -> ehm_testkit::TestApp {
    let mut b = ehm_testkit::TestApp::builder(BIN)
        .db(db)
        .smtp(smtp)
        .data_dir(data)
        .env("EHM_LOGIN_CODE", "false");
    if let Some(g) = go_live {
        b = b.env("EHM_GO_LIVE", g);
    }
    b.spawn().await
}

#[tokio::test]
async fn before_go_live_a_referral_cannot_be_started_or_submitted() {
    for backend in backends() {
        // Open: a referrer completes a draft.
        let data = tempfile::tempdir().unwrap();
        let db = ehm_testkit::TestDb::create(backend).await;
        let smtp = ehm_testkit::SmtpSink::start().await;
        let app = spawn_on(&db, &smtp, data.path(), None).await;
        let mut env = Env { app, smtp, db };
        let email = "eager.referrer@example.org";
        let c = referrer(&env, email).await;
        let draft = new_draft(&c).await;
        fill(&c, &draft, "Amira often arrives hungry.", &nhs_number(5150)).await;
        assert!(
            c.get(&format!("{draft}/check"))
                .await
                .form_value("version")
                .is_some(),
            "the draft is not complete"
        );

        // The same data, restarted with a launch date in the future.
        env.app.stop().await;
        env.app = spawn_on(&env.db, &env.smtp, data.path(), Some("2099-10-03")).await;
        let c = sign_in(&env, email).await;
        let home = c.get("/").await;
        assert!(
            home.text_contains("The portal opens for referrals on 3 October 2099"),
            "{}",
            home.text()
        );
        assert!(
            home.select("form[action='/referrals']").is_empty(),
            "{backend:?}: 'Start a new referral' offered before go-live"
        );
        let store = common::store(&env).await;
        let start = c.post_form("/referrals", &[]).await;
        assert_eq!(start.status, 403, "{backend:?}: {}", start.text());
        assert!(start.text_contains("The portal is not open yet"));
        assert!(start.text_contains("The portal opens on 3 October 2099"));
        assert_eq!(
            store.count(ehm_storage::Counted::Referrals).await.unwrap(),
            1,
            "{backend:?}: a draft was started before go-live"
        );
        // The draft made before can be opened but not submitted.
        let check = c.get(&format!("{draft}/check")).await;
        check.assert_status(200);
        let v = check.form_value("version").unwrap();
        let refused = c
            .post_form(&format!("{draft}/submit"), &[("version", &v)])
            .await;
        assert_eq!(refused.status, 403, "{backend:?}: {}", refused.text());
        assert!(refused.text_contains("The portal is not open yet"));
        let row = store
            .referral_by_public_id(draft.trim_start_matches("/referrals/"))
            .await
            .unwrap()
            .expect("the draft");
        assert_eq!(
            (row.status.code(), row.reference),
            ("draft", None),
            "{backend:?}: submitted before go-live"
        );
        assert_eq!(
            c.get(&format!("{draft}/confirmation")).await.location,
            Some(draft.clone())
        );
    }
}

#[tokio::test]
async fn the_character_count_is_rendered_by_the_server() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = referrer(&env, "count.me@example.org").await;
    let draft = new_draft(&c).await;
    let path = format!("{draft}/concerns");
    let page = c.get(&path).await;
    let info_and_status = |p: &Page, id: &str| {
        (
            p.select(&format!("#{id}-info")).join(""),
            p.select(&format!("#{id}-status")).join(""),
        )
    };
    assert_eq!(
        info_and_status(&page, "concerns"),
        (
            "You can enter up to 20,000 characters".to_string(),
            "You have 20,000 characters remaining".to_string()
        )
    );
    assert_eq!(
        info_and_status(&page, "strengths"),
        (
            "You can enter up to 5,000 characters".to_string(),
            "You have 5,000 characters remaining".to_string()
        )
    );
    assert_eq!(
        page.select_attr("#concerns", "aria-describedby"),
        vec!["concerns-info concerns-status concerns-hint"]
    );
    // What is saved is counted as the limit is enforced: a new line (sent as CR LF) is one
    // character, an accented letter is one, surrounding spaces none.
    let concerns = "  Zoë arrives hungry.\r\nShe is tired.  ";
    let counted = "Zoë arrives hungry.\nShe is tired.".chars().count();
    assert_eq!(counted, 33);
    let v = version(&c, &path).await;
    let saved = c
        .post_form(
            &path,
            &[
                ("version", &v),
                ("concerns", concerns),
                ("strengths", &"s".repeat(4_999)),
                ("completed", "yes"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{:?}", saved.error_summary());
    let page = c.get(&path).await;
    assert_eq!(
        info_and_status(&page, "concerns").1,
        "You have 19,967 characters remaining"
    );
    assert_eq!(
        info_and_status(&page, "strengths").1,
        "You have 1 character remaining"
    );
    // Over the limit: the count says by how much, in red, beside the error.
    let v = version(&c, &path).await;
    let over = c
        .post_form(
            &path,
            &[
                ("version", &v),
                ("concerns", concerns),
                ("strengths", &"s".repeat(5_003)),
                ("completed", "yes"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(over.status, 422);
    assert_eq!(
        info_and_status(&over, "strengths").1,
        "You have 3 characters too many"
    );
    let class = over.select_attr("#strengths-status", "class").join("");
    assert!(class.contains("govuk-error-message"), "{class}");
    assert!(
        over.select_attr("#strengths", "class")
            .join("")
            .contains("govuk-textarea--error")
    );
    // Every limited textarea of every section has its count.
    for slug in ["children", "previous-references", "support", "consent"] {
        let page = c.get(&format!("{draft}/{slug}")).await;
        let limited = page.select_attr("textarea[id]", "id");
        assert!(!limited.is_empty(), "{slug}");
        for id in limited {
            let (info, status) = info_and_status(&page, &id);
            assert!(info.starts_with("You can enter up to "), "{slug} #{id}");
            assert!(
                status.starts_with("You have ") && status.ends_with(" remaining"),
                "{slug} #{id}: {status:?}"
            );
        }
    }
}
