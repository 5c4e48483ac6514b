//! The access matrix: every route the real binary serves (listed by `ehm routes`, which
//! prints the table the router is built from) × every kind of actor × every state of the
//! referral it names, each cell asserted. A route added without a row here fails the test:
//! this is the gate every new route passes through.

use ehm_testkit::{Backend, Client, backends};
use std::collections::BTreeMap;

mod common;
use common::{BIN, Env, create_user, fill, new_draft, nhs_number, signed_in, submit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    SignedOut,
    Owner,
    OtherReferrer,
    BusinessSupport,
    SocialWorker,
    Manager,
    Admin,
}

use Actor::*;

const ACTORS: [Actor; 7] = [
    SignedOut,
    Owner,
    OtherReferrer,
    BusinessSupport,
    SocialWorker,
    Manager,
    Admin,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Draft,
    Submitted,
}

impl Actor {
    fn is_mash(self) -> bool {
        matches!(self, BusinessSupport | SocialWorker | Manager)
    }
    fn signed_in(self) -> bool {
        self != SignedOut
    }
}

/// What a cell must answer: a status, and for redirects where they go (`{pid}` stands for
/// the referral's path).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expect(u16, Option<&'static str>);

const OK: Expect = Expect(200, None);
const NOT_FOUND: Expect = Expect(404, None);
const FORBIDDEN: Expect = Expect(403, None);
const CONFLICT: Expect = Expect(409, None);
const SIGN_IN: Expect = Expect(303, Some("/sign-in"));

fn to(path: &'static str) -> Expect {
    Expect(303, Some(path))
}

/// The policy, one row per route. Panics for a route it does not know.
fn expect(method: &str, route: &str, a: Actor, s: State) -> Expect {
    let draft = s == State::Draft;
    // Referral pages: who may open the referral at all.
    let owner = a == Owner;
    let reads = owner || (a.is_mash() && !draft);
    let edit = |ok: Expect| -> Expect {
        match (a.signed_in(), owner && draft, reads) {
            (false, _, _) => SIGN_IN,
            (true, true, _) => ok,
            (true, false, true) => to("{pid}"),
            _ => NOT_FOUND,
        }
    };
    let read = |ok: Expect| -> Expect {
        match (a.signed_in(), reads) {
            (false, _) => SIGN_IN,
            (true, true) => ok,
            _ => NOT_FOUND,
        }
    };
    let author = |draft_answer: Expect, submitted_answer: Expect| -> Expect {
        match (a.signed_in(), owner, draft) {
            (false, _, _) => SIGN_IN,
            (true, true, true) => draft_answer,
            (true, true, false) => submitted_answer,
            _ => NOT_FOUND,
        }
    };
    let staff = |ok: Expect| -> Expect {
        match (a.signed_in(), a.is_mash() && !draft) {
            (false, _) => SIGN_IN,
            (true, true) => ok,
            _ => NOT_FOUND,
        }
    };
    let workflow = |roles: &[Actor], ok: Expect| -> Expect {
        staff(if roles.contains(&a) { ok } else { FORBIDDEN })
    };
    let admin_only = |ok: Expect| -> Expect {
        match a {
            SignedOut => SIGN_IN,
            Admin => ok,
            _ => FORBIDDEN,
        }
    };
    match (method, route) {
        // Public pages.
        ("GET", "/" | "/register" | "/forgot-password" | "/signed-out") => OK,
        ("GET", "/accessibility" | "/privacy" | "/cookies" | "/health") => OK,
        ("GET", "/static/{*path}") => OK,
        ("GET", "/sign-in") => {
            if a.signed_in() {
                to("/")
            } else {
                OK
            }
        }
        // Forms of the sign-in journeys, posted empty: a clear error, or back to the start
        // of a journey nobody here is in.
        ("POST", "/register" | "/sign-in" | "/forgot-password") => Expect(422, None),
        ("GET" | "POST", "/register/confirm-email") | ("POST", "/register/new-code") => {
            to("/register")
        }
        (
            "GET" | "POST",
            "/sign-in/code" | "/sign-in/set-up-authenticator" | "/sign-in/authenticator",
        )
        | ("POST", "/sign-in/new-code") => to("/sign-in"),
        ("GET" | "POST", "/reset-password") => to("/forgot-password"),
        ("POST", "/session/keep-alive") => {
            if a.signed_in() {
                OK
            } else {
                Expect(401, None)
            }
        }
        // Anyone may ask how long their session has left (signed out: "not signed in").
        ("GET", "/session/status") => OK,
        // Changing one's password: anyone signed in; posted empty, the fields' errors.
        ("GET", "/account/password") => {
            if a.signed_in() {
                OK
            } else {
                SIGN_IN
            }
        }
        ("POST", "/account/password") => {
            if a.signed_in() {
                Expect(422, None)
            } else {
                SIGN_IN
            }
        }
        ("POST", "/sign-out") => to("/signed-out"),
        // Starting a referral: referrers only.
        ("POST", "/referrals") => match a {
            SignedOut => SIGN_IN,
            Owner | OtherReferrer => Expect(303, None),
            _ => FORBIDDEN,
        },
        ("GET", "/referrals/kept-answers") => {
            if a.signed_in() {
                to("/")
            } else {
                SIGN_IN
            }
        }
        // One referral.
        ("GET", "/referrals/{pid}") => read(OK),
        ("GET", "/referrals/{pid}/pdf") => read(OK),
        ("GET", "/referrals/{pid}/attachments/{aid}") => read(OK),
        ("GET", "/referrals/{pid}/check") => edit(OK),
        ("GET", "/referrals/{pid}/{slug}") => edit(OK),
        // Posted without its version: refused as unreadable, nothing saved.
        ("POST", "/referrals/{pid}/{slug}") => edit(Expect(400, None)),
        // Kept answers waiting for a choice: none here, so the section itself; posted
        // without a choice, back to the choice.
        ("GET", "/referrals/{pid}/{slug}/conflict") => edit(to("{pid}/concerns")),
        ("POST", "/referrals/{pid}/{slug}/conflict") => edit(to("{pid}/concerns/conflict")),
        ("GET", "/referrals/{pid}/attachments") => edit(OK),
        // Posted without a file.
        ("POST", "/referrals/{pid}/attachments") => edit(Expect(422, None)),
        ("POST", "/referrals/{pid}/attachments/{aid}/delete") => edit(to("{pid}/attachments")),
        ("GET", "/referrals/{pid}/delete") => edit(OK),
        ("POST", "/referrals/{pid}/delete") => edit(to("/")),
        // Posted without the version the check page showed: back to the check page.
        ("POST", "/referrals/{pid}/submit") => author(to("{pid}/check"), to("{pid}/confirmation")),
        ("GET", "/referrals/{pid}/confirmation") => author(to("{pid}"), OK),
        // The MASH: staff only; a referral only once submitted.
        ("GET", "/mash") => match a {
            SignedOut => SIGN_IN,
            _ if a.is_mash() => OK,
            _ => FORBIDDEN,
        },
        ("GET", "/mash/referrals/{pid}") => staff(OK),
        // Person index and links.
        ("POST", "/mash/referrals/{pid}/children/{child}/link") => {
            // Posted without a person id.
            change_links(a, s, Expect(422, None))
        }
        ("POST", "/mash/referrals/{pid}/children/{child}/new-person") => {
            // The child is already linked (the matrix links every submitted referral's).
            change_links(a, s, Expect(422, None))
        }
        ("GET", "/mash/referrals/{pid}/links/{link}/unlink") => change_links(a, s, OK),
        // Posted without a reason.
        ("POST", "/mash/referrals/{pid}/links/{link}/unlink") => {
            change_links(a, s, Expect(422, None))
        }
        ("GET", "/mash/persons/{id}") => person_page(a, false, OK),
        ("GET", "/mash/persons/{id}/edit") => person_page(a, true, OK),
        // Posted without the version the form showed: unreadable, nothing saved.
        ("POST", "/mash/persons/{id}/edit") => person_page(a, true, Expect(400, None)),
        // Workflow. The referral is freshly submitted and the forms are posted empty; which
        // step a member of staff may take is the workflow rules' answer: 403 for a step
        // their role may not take, 409 for one not possible in this status, 422 for an
        // allocation without a worker chosen. Start triage runs last of these (route order)
        // and is the one step that succeeds.
        ("POST", "/mash/referrals/{pid}/start-triage") => {
            workflow(&[BusinessSupport, Manager], to("/mash{pid}"))
        }
        ("POST", "/mash/referrals/{pid}/allocate") => {
            workflow(&[BusinessSupport, Manager], Expect(422, None))
        }
        ("POST", "/mash/referrals/{pid}/send-for-decision" | "/mash/referrals/{pid}/close") => {
            workflow(&[BusinessSupport, Manager], CONFLICT)
        }
        ("GET" | "POST", "/mash/referrals/{pid}/decision") => {
            workflow(&[SocialWorker, Manager], CONFLICT)
        }
        ("POST", "/mash/referrals/{pid}/authorise")
        | ("GET" | "POST", "/mash/referrals/{pid}/return") => workflow(&[Manager], CONFLICT),
        // The letter exists once feedback is sent.
        ("GET", "/mash/referrals/{pid}/letter") => staff(CONFLICT),
        // Administrators.
        ("GET", "/admin/users" | "/admin/users/new" | "/admin/audit") => admin_only(OK),
        ("POST", "/admin/users/new") => admin_only(Expect(422, None)),
        // Demo mode is off.
        ("GET", "/demo/mailbox") => NOT_FOUND,
        _ => panic!("route {method} {route} has no row in the access matrix: add one"),
    }
}

/// Changing a referral's links to person records: business support and managers; social
/// workers may see the referral but not change its links (403); anyone else who may not
/// work on the referral, and everyone for a draft, gets 404.
fn change_links(a: Actor, s: State, ok: Expect) -> Expect {
    match a {
        SignedOut => SIGN_IN,
        _ if !a.is_mash() || s == State::Draft => NOT_FOUND,
        SocialWorker => FORBIDDEN,
        _ => ok,
    }
}

/// A person record: MASH staff read it, business support and managers correct it; it is
/// not about one referral, so anyone else gets 403 (not 404).
fn person_page(a: Actor, edit: bool, ok: Expect) -> Expect {
    match a {
        SignedOut => SIGN_IN,
        BusinessSupport | Manager => ok,
        SocialWorker if !edit => ok,
        _ => FORBIDDEN,
    }
}

/// The person every submitted referral's child is linked to (see [`link_child`]).
const MATRIX_PERSON: &str = "CM-MATRIX-1";

async fn add_matrix_person(env: &Env) {
    let store = common::store(env).await;
    let p = ehm_storage::PersonData {
        id: MATRIX_PERSON.into(),
        first_name: Some("Amira".into()),
        last_name: Some("Testwell".into()),
        dob: Some("2016-02-14".into()),
        postcode: Some("AB1 2XY".into()),
        ..Default::default()
    };
    store
        .upsert_persons_batch(&[p], time::OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// Links the first child of the submitted referral at `pid_path` to [`MATRIX_PERSON`]
/// (straight in the database) and returns the link's id.
async fn link_child(env: &Env, pid_path: &str) -> String {
    let store = common::store(env).await;
    let r = store
        .referral_by_public_id(pid_path.trim_start_matches("/referrals/"))
        .await
        .unwrap()
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let out = store
        .link_person(
            &mut tx,
            r.id,
            0,
            MATRIX_PERSON,
            1,
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    ehm_storage::commit(tx).await.unwrap();
    match out {
        ehm_storage::LinkOutcome::Linked { link_id } => link_id.to_string(),
        other => panic!("linking the matrix referral: {other:?}"),
    }
}

/// Routes whose cells change what later cells see run last, in this order.
fn order(method: &str, route: &str) -> u8 {
    match (method, route) {
        ("POST", "/referrals/{pid}/attachments/{aid}/delete") => 1,
        ("POST", "/referrals/{pid}/submit") => 2,
        ("POST", "/referrals/{pid}/delete") => 3,
        ("POST", "/sign-out") => 4,
        _ => 0,
    }
}

fn routes() -> Vec<(String, String)> {
    let out = std::process::Command::new(BIN)
        .arg("routes")
        .output()
        .expect("run ehm routes");
    assert!(out.status.success());
    let mut routes: Vec<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (m, p) = l.split_once(' ').expect("METHOD PATH");
            (m.to_string(), p.to_string())
        })
        .collect();
    routes.sort_by_key(|(m, p)| order(m, p));
    routes
}

/// A referral of the owner's in `state`, with one attachment: (path, attachment id).
async fn referral(owner: &Client, state: State, seed: u32) -> (String, String) {
    let draft = new_draft(owner).await;
    fill(
        owner,
        &draft,
        "Worried about attendance.",
        &nhs_number(seed),
    )
    .await;
    let path = format!("{draft}/attachments");
    let page = owner.get(&path).await;
    let v = page.form_value("version").unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let p = owner
        .post_multipart(
            &path,
            &[("version", &v)],
            ("file", "chronology.pdf", "application/pdf", pdf),
        )
        .await;
    assert_eq!(p.status, 303, "{:?}", p.error_summary());
    let aid = owner
        .get(&path)
        .await
        .select_attr("a[href*='/attachments/']", "href")
        .into_iter()
        .chain(
            owner
                .get(&path)
                .await
                .select_attr("form[action$='/delete']", "action"),
        )
        .find_map(|h| {
            h.split("/attachments/")
                .nth(1)
                .map(|rest| rest.trim_end_matches("/delete").to_string())
        })
        .expect("the attachment's id on the attachments page");
    if state == State::Submitted {
        let done = submit(owner, &draft).await;
        assert_eq!(done.status, 303, "{}", done.text());
    }
    (draft, aid)
}

/// The link of a submitted referral's first child (a draft has none: "0").
async fn link_of(env: &Env, s: State, pid_path: &str) -> String {
    match s {
        State::Draft => "0".into(),
        State::Submitted => link_child(env, pid_path).await,
    }
}

async fn client_for(env: &Env, a: Actor) -> Client {
    let email = match a {
        SignedOut => return env.app.client(),
        Owner => "owen.owner@example.org",
        OtherReferrer => "otto.other@example.org",
        BusinessSupport => "bo.support@example.org",
        SocialWorker => "sam.social@example.org",
        Manager => "meg.manager@example.org",
        Admin => "ada.administrator@example.org",
    };
    signed_in(env, email).await.0
}

fn concrete(route: &str, pid_path: &str, aid: &str, link: &str) -> String {
    route
        .replace("{child}", "0")
        .replace("{link}", link)
        .replace("{id}", MATRIX_PERSON)
        .replace(
            "/mash/referrals/{pid}",
            &pid_path.replace("/referrals/", "/mash/referrals/"),
        )
        .replace("/referrals/{pid}", pid_path)
        .replace("{aid}", aid)
        .replace("{slug}", "concerns")
        .replace("{*path}", "app.css")
}

async fn cell(c: &Client, method: &str, path: &str) -> ehm_testkit::Page {
    if method == "GET" {
        return c.get(path).await;
    }
    // A token from a page of this client's own session, as a browser would have.
    c.get("/accessibility").await;
    if path.ends_with("/attachments") {
        let token = c.csrf_token().unwrap_or_default();
        return c
            .post_multipart(
                path,
                &[("csrf_token", &token)],
                ("file", "", "application/octet-stream", Vec::new()),
            )
            .await;
    }
    c.post_form(path, &[]).await
}

#[tokio::test]
async fn every_route_answers_every_actor_as_the_policy_says() {
    for backend in backends() {
        matrix(backend).await;
    }
}

async fn matrix(backend: Backend) {
    let env = common::start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
    for (email, role) in [
        ("owen.owner@example.org", "referrer"),
        ("otto.other@example.org", "referrer"),
        ("bo.support@example.org", "business-support"),
        ("sam.social@example.org", "social-worker"),
        ("meg.manager@example.org", "manager"),
        ("ada.administrator@example.org", "admin"),
    ] {
        create_user(&env, email, role, "Test Person");
    }
    add_matrix_person(&env).await;
    let routes = routes();
    assert!(routes.len() > 40, "ehm routes listed only {}", routes.len());
    let mut failures = Vec::new();
    let mut cells = 0;
    let mut seed = 1000;
    for a in ACTORS {
        let owner = client_for(&env, Owner).await;
        let c = if a == Owner {
            owner
        } else {
            let c = client_for(&env, a).await;
            for s in [State::Draft, State::Submitted] {
                seed += 1;
                let (pid_path, aid) = referral(&owner, s, seed).await;
                let link = link_of(&env, s, &pid_path).await;
                run_row(
                    &c,
                    a,
                    s,
                    &routes,
                    &pid_path,
                    &aid,
                    &link,
                    &mut failures,
                    &mut cells,
                )
                .await;
            }
            continue;
        };
        for s in [State::Draft, State::Submitted] {
            seed += 1;
            let (pid_path, aid) = referral(&c, s, seed).await;
            let link = link_of(&env, s, &pid_path).await;
            run_row(
                &c,
                a,
                s,
                &routes,
                &pid_path,
                &aid,
                &link,
                &mut failures,
                &mut cells,
            )
            .await;
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: {} of {cells} cells differ from the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[allow(clippy::too_many_arguments)]
async fn run_row(
    c: &Client,
    a: Actor,
    s: State,
    routes: &[(String, String)],
    pid_path: &str,
    aid: &str,
    link: &str,
    failures: &mut Vec<String>,
    cells: &mut usize,
) {
    let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
    for (method, route) in routes {
        if route == "/sign-out" && method == "POST" && s == State::Draft && a != SignedOut {
            // Sign-out is asserted once, after the submitted row (it ends the session).
            continue;
        }
        seen.insert((method.clone(), route.clone()), ());
        let want = expect(method, route, a, s);
        let path = concrete(route, pid_path, aid, link);
        let got = cell(c, method, &path).await;
        *cells += 1;
        let want_location = want.1.map(|l| l.replace("{pid}", pid_path));
        let location_ok = match (&want_location, &got.location) {
            (Some(w), Some(g)) => g == w || (w == "/sign-in" && g.starts_with("/sign-in")),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if got.status != want.0 || !location_ok {
            failures.push(format!(
                "{a:?} {s:?} {method} {route}: expected {} {:?}, got {} {:?}",
                want.0, want_location, got.status, got.location
            ));
        }
    }
}
