//! The system match on the staff referral page, links from a referral's children
//! to person records, and the person records: thin handlers over
//! `ehm_app::mash::persons`.
//!
//! - `POST /mash/referrals/{pid}/children/{child}/link` (`person_id`): link the child.
//! - `POST /mash/referrals/{pid}/children/{child}/new-person`: a new person from the child.
//! - `GET|POST /mash/referrals/{pid}/links/{link}/unlink` (`reason`): undo a link.
//! - `GET /mash/persons/{id}`, `GET|POST /mash/persons/{id}/edit`: a record, corrections.
//!
//! Referral routes answer 404 to anyone who may not work on the referral (the `Staff`
//! extractor) and 403 to MASH staff who may see it but not change links (social workers).
//! Person pages answer 403 to anyone who is not MASH staff (a person page is not about one
//! referral whose existence could leak) and 404 for an unknown id.
//! Every POST ends in a 303 back to the page it came from (with a one-shot message), or
//! that page again with the errors (422) and what was typed.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ehm_app::FieldErrors;
use ehm_app::mash::StaffReferral;
use ehm_app::mash::persons::{
    self as uc, CandidateView, ChildMatch, LinkChange, LinkView, PersonForm, PersonOutcome,
    RelatedReferral, SystemMatch, UpdateOutcome,
};
use ehm_domain::referral::Gender;
use ehm_storage::{PersonData, PersonRow};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::Staff;
use super::referral::{Panels, panels, render};
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::guard::actor;
use crate::render::{Errors, page, page_with_status};
use crate::routes::referrals::{date_time, long_date};
use crate::routes::see_other;
use crate::session::Session;
use crate::state::AppState;

// ------------------------------------------------------------------ formatting

/// A path segment with everything but unreserved characters percent-encoded (person ids
/// come from the case-management system and may hold any printable character).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn person_href(id: &str) -> String {
    format!("/mash/persons/{}", segment(id))
}

/// "Amira Testwell", or the id when the record has no name.
fn person_name(p: &PersonData) -> String {
    let n = format!(
        "{} {}",
        p.first_name.as_deref().unwrap_or("").trim(),
        p.last_name.as_deref().unwrap_or("").trim()
    )
    .trim()
    .to_owned();
    if n.is_empty() { p.id.clone() } else { n }
}

/// "14 February 2016", "14 February 2016 (estimated)", "Not recorded".
fn dob_text(p: &PersonData) -> String {
    let Some(iso) = p.dob.as_deref() else {
        return "Not recorded".into();
    };
    let shown = time::Date::parse(
        iso,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| long_date(d.midnight().assume_utc()))
    .unwrap_or_else(|_| iso.to_owned());
    if p.dob_estimated {
        format!("{shown} (estimated)")
    } else {
        shown
    }
}

fn gender_text(p: &PersonData) -> String {
    match p.gender.as_deref() {
        None => "Not recorded".into(),
        Some(g) => Gender::parse(g)
            .map(|g| g.label().to_owned())
            .unwrap_or_else(|_| g.to_owned()),
    }
}

/// A match probability as staff read it: "87%", "less than 1%", "more than 99%".
fn percent(score: f64) -> String {
    let p = score * 100.0;
    if p < 1.0 {
        "less than 1%".into()
    } else if p > 99.0 {
        "more than 99%".into()
    } else {
        format!("{p:.0}%")
    }
}

fn thousands(n: usize) -> String {
    ehm_domain::referral::text::format_thousands(n)
}

#[derive(Serialize)]
struct RelatedCtx {
    reference: String,
    href: String,
    received: String,
    organisation: String,
    status: String,
    open: bool,
    other_agency: bool,
}

fn related_ctx(r: &RelatedReferral) -> RelatedCtx {
    RelatedCtx {
        reference: r.reference.clone().unwrap_or_else(|| "No reference".into()),
        href: format!("/mash/referrals/{}", r.public_id),
        received: r.submitted_at.map(date_time).unwrap_or_default(),
        organisation: if r.organisation.is_empty() {
            "Not given".into()
        } else {
            r.organisation.clone()
        },
        status: r.status_label.clone(),
        open: r.open,
        other_agency: r.other_agency,
    }
}

#[derive(Serialize)]
struct LinkCtx {
    id: i64,
    person_id: String,
    href: String,
    /// The person as now recorded ("Amira Testwell, born 14 February 2016").
    person: String,
    by: String,
    at: String,
    undo_href: String,
    unlinked_by: Option<String>,
    unlinked_at: Option<String>,
    reason: Option<String>,
}

fn link_ctx(pid: &str, v: &LinkView) -> LinkCtx {
    LinkCtx {
        id: v.link.id,
        person_id: v.link.person_id.clone(),
        href: format!("{}?referral={pid}", person_href(&v.link.person_id)),
        person: v
            .person
            .as_ref()
            .map(|p| match p.data.dob {
                Some(_) => format!("{}, born {}", person_name(&p.data), dob_text(&p.data)),
                None => format!("{}, date of birth not recorded", person_name(&p.data)),
            })
            .unwrap_or_else(|| "record not found".into()),
        by: v.linked_by.clone(),
        at: date_time(v.link.linked_at),
        undo_href: format!("/mash/referrals/{pid}/links/{}/unlink", v.link.id),
        unlinked_by: v.unlinked_by.clone(),
        unlinked_at: v.link.unlinked_at.map(date_time),
        reason: v.link.unlink_reason.clone(),
    }
}

#[derive(Serialize)]
struct ReasonCtx {
    label: String,
    text: String,
}

#[derive(Serialize)]
struct CandidateCtx {
    person_id: String,
    href: String,
    name: String,
    dob: String,
    postcode: String,
    score: String,
    reasons: Vec<ReasonCtx>,
    linked: bool,
}

fn candidate_ctx(pid: &str, c: &CandidateView) -> CandidateCtx {
    let p = &c.person.data;
    CandidateCtx {
        person_id: p.id.clone(),
        href: format!("{}?referral={pid}", person_href(&p.id)),
        name: person_name(p),
        dob: dob_text(p),
        postcode: p.postcode.clone().unwrap_or_else(|| "Not recorded".into()),
        score: percent(c.score),
        reasons: c
            .reasons
            .iter()
            .map(|r| ReasonCtx {
                label: r.label.clone(),
                text: r.text.clone(),
            })
            .collect(),
        linked: c.linked,
    }
}

/// What one child's part of the panel was posted with, to show again with its error.
#[derive(Default)]
struct Typed {
    child: Option<usize>,
    person_id: String,
}

fn child_ctx(pid: &str, c: &ChildMatch, typed: &Typed) -> Value {
    let field = uc::person_id_field(c.index);
    context! {
        index => c.index,
        number => c.index + 1,
        name => &c.name,
        heading_id => format!("match-child-{}", c.index),
        field_id => field,
        typed => if typed.child == Some(c.index) { typed.person_id.as_str() } else { "" },
        link_action => format!("/mash/referrals/{pid}/children/{}/link", c.index),
        new_person_action => format!("/mash/referrals/{pid}/children/{}/new-person", c.index),
        current => c.current.as_ref().map(|v| link_ctx(pid, v)),
        undone => c.undone.iter().map(|v| link_ctx(pid, v)).collect::<Vec<_>>(),
        loading => c.candidates.is_none(),
        candidates => c.candidates.iter().flatten().map(|k| candidate_ctx(pid, k)).collect::<Vec<_>>(),
        related => c.related.iter().map(related_ctx).collect::<Vec<_>>(),
        open_elsewhere => c.related.iter().filter(|r| r.open && r.other_agency).count(),
    }
}

fn match_ctx(pid: &str, m: &SystemMatch, typed: &Typed) -> Value {
    context! {
        shown => true,
        may_change => m.may_change,
        indexed => thousands(m.indexed),
        several => m.children.len() > 1,
        children => m.children.iter().map(|c| child_ctx(pid, c, typed)).collect::<Vec<_>>(),
    }
}

/// The system-match panel of the staff referral page (`m` in `_match.html`).
pub(crate) async fn match_context(state: &AppState, r: &StaffReferral) -> AppResult<Value> {
    let m = uc::system_match(&state.app, r).await?;
    Ok(match_ctx(r.loaded.public_id(), &m, &Typed::default()))
}

/// The referral page again, with `errors` from a link step and what was typed.
async fn referral_with_errors(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    typed: Typed,
    errors: FieldErrors,
) -> AppResult<Response> {
    let mut p: Panels = panels(state, r).await?;
    let m = uc::system_match(&state.app, r).await?;
    p.match_ctx = match_ctx(r.loaded.public_id(), &m, &typed);
    let mut e = Errors::default();
    for (field, message) in errors.0 {
        e.add(&field, message);
    }
    render(state, session, r, p, &e, StatusCode::UNPROCESSABLE_ENTITY).await
}

fn back_to(r: &StaffReferral) -> Response {
    see_other(&format!("/mash/referrals/{}", r.loaded.public_id()))
}

fn number(params: &HashMap<String, String>, key: &str) -> AppResult<i64> {
    params
        .get(key)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or(AppError::NotFound)
}

// ------------------------------------------------------------------ link, create, unlink

#[derive(Deserialize, Default)]
pub struct LinkForm {
    #[serde(default)]
    person_id: String,
}

#[tracing::instrument(skip_all)]
pub async fn link(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    Path(params): Path<HashMap<String, String>>,
    PostedForm(form): PostedForm<LinkForm>,
) -> AppResult<Response> {
    let child = number(&params, "child")? as usize;
    match uc::link(&state.app, &r, child, &form.person_id, &ip).await? {
        LinkChange::Linked { person_id } => {
            let name = r
                .loaded
                .draft
                .children
                .get(child)
                .map(|c| format!("{} {}", c.first_name.trim(), c.last_name.trim()))
                .unwrap_or_default();
            session
                .flash(
                    &state.store,
                    format!("{} linked to person record {person_id}", name.trim()),
                )
                .await?;
            Ok(back_to(&r))
        }
        LinkChange::Invalid(errors) => {
            let typed = Typed {
                child: Some(child),
                person_id: form.person_id,
            };
            referral_with_errors(&state, &session, &r, typed, errors).await
        }
        LinkChange::NotAllowed => Err(AppError::Forbidden),
        _ => Err(AppError::NotFound),
    }
}

#[tracing::instrument(skip_all)]
pub async fn new_person(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    Path(params): Path<HashMap<String, String>>,
) -> AppResult<Response> {
    let child = number(&params, "child")? as usize;
    match uc::create_person(&state.app, &r, child, &ip).await? {
        LinkChange::Created { person_id } => {
            session
                .flash(
                    &state.store,
                    format!("New person record {person_id} created from this child and linked"),
                )
                .await?;
            Ok(back_to(&r))
        }
        LinkChange::Invalid(errors) => {
            let typed = Typed {
                child: Some(child),
                person_id: String::new(),
            };
            referral_with_errors(&state, &session, &r, typed, errors).await
        }
        LinkChange::NotAllowed => Err(AppError::Forbidden),
        _ => Err(AppError::NotFound),
    }
}

async fn unlink_page(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    v: &LinkView,
    reason: &str,
    errors: &Errors,
) -> Response {
    let pid = r.loaded.public_id();
    let child = r
        .loaded
        .draft
        .children
        .get(v.link.child_index as usize)
        .map(|c| {
            format!("{} {}", c.first_name.trim(), c.last_name.trim())
                .trim()
                .to_owned()
        })
        .unwrap_or_default();
    page(
        state,
        session,
        "pages/mash/person_unlink.html",
        &format!("Undo the link to person record {}", v.link.person_id),
        errors,
        context! {
            link => link_ctx(pid, v),
            child,
            reference => &r.loaded.row.reference,
            referral_href => format!("/mash/referrals/{pid}"),
            action => format!("/mash/referrals/{pid}/links/{}/unlink", v.link.id),
            reason,
            reason_max => ehm_domain::mash::person::UNLINK_REASON_MAX,
        },
    )
}

/// The link named by the path, for someone who may change links; 403 otherwise (audited).
async fn changeable_link(
    state: &AppState,
    r: &StaffReferral,
    params: &HashMap<String, String>,
    ip: &str,
) -> AppResult<LinkView> {
    let id = number(params, "link")?;
    if !uc::may_change_links(&state.app, r, ip).await? {
        return Err(AppError::Forbidden);
    }
    uc::link_of(&state.app, r, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[tracing::instrument(skip_all)]
pub async fn unlink_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    Path(params): Path<HashMap<String, String>>,
) -> AppResult<Response> {
    let v = changeable_link(&state, &r, &params, &ip).await?;
    if !v.link.is_current() {
        session
            .flash(&state.store, "That link had already been undone")
            .await?;
        return Ok(back_to(&r));
    }
    Ok(unlink_page(&state, &session, &r, &v, "", &Errors::default()).await)
}

#[derive(Deserialize, Default)]
pub struct UnlinkForm {
    #[serde(default)]
    reason: String,
}

#[tracing::instrument(skip_all)]
pub async fn unlink(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    Path(params): Path<HashMap<String, String>>,
    PostedForm(form): PostedForm<UnlinkForm>,
) -> AppResult<Response> {
    let id = number(&params, "link")?;
    match uc::unlink(&state.app, &r, id, &form.reason, &ip).await? {
        LinkChange::Unlinked { person_id } => {
            session
                .flash(
                    &state.store,
                    format!("Link to person record {person_id} undone"),
                )
                .await?;
            Ok(back_to(&r))
        }
        LinkChange::AlreadyUnlinked => {
            session
                .flash(&state.store, "That link had already been undone")
                .await?;
            Ok(back_to(&r))
        }
        LinkChange::Invalid(errors) => {
            let v = uc::link_of(&state.app, &r, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let mut e = Errors::default();
            for (field, message) in errors.0 {
                e.add(&field, message);
            }
            Ok(unlink_page(&state, &session, &r, &v, &form.reason, &e).await)
        }
        LinkChange::NotAllowed => Err(AppError::Forbidden),
        _ => Err(AppError::NotFound),
    }
}

// ------------------------------------------------------------------ person records

#[derive(Deserialize, Default)]
pub struct FromReferral {
    #[serde(default)]
    referral: String,
}

/// Where "Back" goes: the referral the person was opened from, or the work tray.
fn back_href(from: &FromReferral) -> String {
    let pid = from.referral.trim();
    if !pid.is_empty()
        && pid.len() <= 64
        && pid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        format!("/mash/referrals/{pid}")
    } else {
        "/mash".into()
    }
}

fn person_rows(p: &PersonRow) -> Vec<Value> {
    let d = &p.data;
    let or_not = |v: &Option<String>| {
        v.clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "Not recorded".into())
    };
    vec![
        context! { key => "Person record", value => &d.id },
        context! { key => "First name", value => or_not(&d.first_name) },
        context! { key => "Last name", value => or_not(&d.last_name) },
        context! { key => "Other names", value => if d.other_names.is_empty() { "None recorded".to_string() } else { d.other_names.join(", ") } },
        context! { key => "Date of birth", value => dob_text(d) },
        context! { key => "Gender", value => gender_text(d) },
        context! { key => "Address", value => or_not(&d.address) },
        context! { key => "Postcode", value => or_not(&d.postcode) },
        context! { key => "Last changed", value => date_time(p.updated_at) },
    ]
}

fn person_id_param(params: &HashMap<String, String>) -> AppResult<String> {
    params.get("id").cloned().ok_or(AppError::NotFound)
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(params): Path<HashMap<String, String>>,
    Query(from): Query<FromReferral>,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    let id = person_id_param(&params)?;
    let p = match uc::person(&state.app, actor, &id, &ip).await? {
        PersonOutcome::Found(p) => p,
        PersonOutcome::NotAllowed => return Err(AppError::Forbidden),
        PersonOutcome::NotFound => return Err(AppError::NotFound),
    };
    let flash = session.take_flash(&state.store).await?;
    let name = person_name(&p.person.data);
    Ok(page(
        &state,
        &session,
        "pages/mash/person.html",
        &name,
        &Errors::default(),
        context! {
            name,
            person_id => &p.person.data.id,
            rows => person_rows(&p.person),
            may_edit => p.may_edit,
            edit_href => format!("{}/edit", person_href(&p.person.data.id)),
            referrals => p.referrals.iter().map(related_ctx).collect::<Vec<_>>(),
            back_href => back_href(&from),
            flash,
        },
    ))
}

/// The correction form as posted (input names are the field ids).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
pub struct EditForm {
    first_name: String,
    last_name: String,
    other_names: String,
    dob_day: String,
    dob_month: String,
    dob_year: String,
    dob_estimated: String,
    gender: String,
    address: String,
    postcode: String,
    version: String,
}

impl EditForm {
    fn person(self) -> (PersonForm, String) {
        (
            PersonForm {
                first_name: self.first_name,
                last_name: self.last_name,
                other_names: self.other_names,
                dob_day: self.dob_day,
                dob_month: self.dob_month,
                dob_year: self.dob_year,
                dob_estimated: self.dob_estimated,
                gender: self.gender,
                address: self.address,
                postcode: self.postcode,
            },
            self.version,
        )
    }
}

fn gender_items() -> Vec<Value> {
    Gender::ALL
        .iter()
        .map(|g| context! { value => g.code(), text => g.label() })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn edit_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    id: &str,
    name: &str,
    version: i64,
    form: &PersonForm,
    errors: &Errors,
    conflict: bool,
) -> Response {
    page_with_status(
        state,
        session,
        status,
        "pages/mash/person_edit.html",
        &format!("Correct the person record of {name}"),
        errors,
        context! {
            name,
            person_id => id,
            action => format!("{}/edit", person_href(id)),
            back_href => person_href(id),
            version,
            form,
            genders => gender_items(),
            estimated => form.dob_estimated == "yes",
            conflict,
        },
    )
}

async fn editable(
    state: &AppState,
    session: &Session,
    params: &HashMap<String, String>,
    ip: &str,
) -> AppResult<PersonRow> {
    let actor = actor(session)?;
    let id = person_id_param(params)?;
    match uc::person_for_edit(&state.app, actor, &id, ip).await? {
        PersonOutcome::Found(p) => Ok(p),
        PersonOutcome::NotAllowed => Err(AppError::Forbidden),
        PersonOutcome::NotFound => Err(AppError::NotFound),
    }
}

#[tracing::instrument(skip_all)]
pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(params): Path<HashMap<String, String>>,
) -> AppResult<Response> {
    let p = editable(&state, &session, &params, &ip).await?;
    Ok(edit_page(
        &state,
        &session,
        StatusCode::OK,
        &p.data.id,
        &person_name(&p.data),
        p.change_seq,
        &PersonForm::of(&p.data),
        &Errors::default(),
        false,
    ))
}

#[tracing::instrument(skip_all)]
pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(params): Path<HashMap<String, String>>,
    PostedForm(form): PostedForm<EditForm>,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    let id = person_id_param(&params)?;
    let (form, version) = form.person();
    let version = version.trim().parse::<i64>().ok();
    let outcome = match version {
        Some(v) => uc::update_person(&state.app, actor, &id, v, &form, &ip).await?,
        // Checked after the access decision, so that nobody learns more than a 403.
        None => match uc::person_for_edit(&state.app, actor, &id, &ip).await? {
            PersonOutcome::NotAllowed => PersonOutcome::NotAllowed,
            PersonOutcome::NotFound => PersonOutcome::NotFound,
            PersonOutcome::Found(_) => {
                return Err(AppError::BadRequest("The form is missing its version"));
            }
        },
    };
    match outcome {
        PersonOutcome::NotAllowed => Err(AppError::Forbidden),
        PersonOutcome::NotFound => Err(AppError::NotFound),
        PersonOutcome::Found(UpdateOutcome::Updated(row)) => {
            session
                .flash(
                    &state.store,
                    format!("Person record {} corrected", row.data.id),
                )
                .await?;
            Ok(see_other(&person_href(&row.data.id)))
        }
        PersonOutcome::Found(UpdateOutcome::Invalid(errors)) => {
            let current = state.store.person(&id).await?.ok_or(AppError::NotFound)?;
            let mut e = Errors::default();
            for (field, message) in errors.0 {
                e.add(&field, message);
            }
            Ok(edit_page(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                &current.data.id,
                &person_name(&current.data),
                version.unwrap_or(current.change_seq),
                &form,
                &e,
                false,
            ))
        }
        PersonOutcome::Found(UpdateOutcome::Conflict(now)) => Ok(edit_page(
            &state,
            &session,
            StatusCode::CONFLICT,
            &now.data.id,
            &person_name(&now.data),
            now.change_seq,
            &PersonForm::of(&now.data),
            &Errors::default(),
            true,
        )),
    }
}
