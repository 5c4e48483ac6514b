//! Administrator pages: staff accounts and the audit log.

use axum::extract::{Query, State};
use axum::response::Response;
use ehm_app::accounts::{self, NewStaffOutcome};
use ehm_domain::account::Role;
use ehm_domain::mash::PersonId;
use ehm_domain::referral::ReferenceNumber;
use ehm_storage::{AuditFilter, TrayFilter, TraySort};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::accounts::errors_of;
use super::see_other;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::guard::{Allowed, ManageUsers, ViewAudit};
use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct UserRow {
    email: String,
    name: String,
    role: &'static str,
    status: &'static str,
    authenticator: &'static str,
}

/// The page asked for in a `page` parameter: the first when it is missing or not a number.
fn page_number(page: &str) -> i64 {
    page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000)
}

/// Rows `first` to `last` (counting from 1) of `total` on page `page_no` of `pages`, with
/// `size` rows a page; `None` for a page past the last (there are rows, none on it).
fn span(page_no: i64, size: i64, total: i64) -> Option<(i64, i64, i64)> {
    let pages = ((total + size - 1) / size).max(1);
    if page_no > pages {
        return None;
    }
    let first = (page_no - 1) * size + 1;
    Some((first, (first - 1 + size).min(total), pages))
}

/// [`span`] of page `page_no`, or for a page past the last (rows removed since the link
/// was made) the address of the last page, the search in `href_prefix` kept.
fn span_or_last(
    page_no: i64,
    size: i64,
    total: i64,
    href_prefix: &str,
) -> Result<(i64, i64, i64), String> {
    span(page_no, size, total).ok_or_else(|| {
        let pages = ((total + size - 1) / size).max(1);
        format!("{href_prefix}{pages}")
    })
}

/// Accounts per page of the list.
const USERS_PAGE: i64 = 50;

/// The accounts list's search as typed (GET parameters).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UsersQuery {
    /// Part of an email address or a name.
    q: String,
    page: String,
}

/// Every account, staff first, 50 a page, searchable by email address or name (GET
/// parameters: a search can be bookmarked and paged).
#[tracing::instrument(skip_all)]
pub async fn users(
    State(state): State<AppState>,
    session: Session,
    Allowed { actor, ip, .. }: Allowed<ManageUsers>,
    Query(query): Query<UsersQuery>,
) -> AppResult<Response> {
    let page_no = page_number(&query.page);
    let text = query.q.trim();
    let Some(found) = accounts::list_accounts(
        &state.app,
        actor,
        Some(text).filter(|t| !t.is_empty()),
        USERS_PAGE,
        (page_no - 1) * USERS_PAGE,
        &ip,
    )
    .await?
    else {
        return Err(AppError::Forbidden);
    };
    let total = found.total;
    let href_prefix = if text.is_empty() {
        "/admin/users?page=".to_string()
    } else {
        format!(
            "/admin/users?{}&page=",
            serde_urlencoded::to_string([("q", text)]).unwrap_or_default()
        )
    };
    let (first, last, pages) = match span_or_last(page_no, USERS_PAGE, total, &href_prefix) {
        Ok(span) => span,
        Err(last_page) => return Ok(see_other(&last_page)),
    };
    let users: Vec<UserRow> = found
        .accounts
        .into_iter()
        .map(|u| UserRow {
            email: u.email,
            name: u.display_name,
            role: u.role.label(),
            status: if u.disabled {
                "Disabled"
            } else if u.verified_at.is_some() {
                "Active"
            } else {
                "Email not confirmed"
            },
            authenticator: if !u.role.is_staff() {
                "Not needed"
            } else if u.totp_enrolled {
                "Set up"
            } else {
                "Not set up yet"
            },
        })
        .collect();
    let flash = session.take_flash(&state.store).await?;
    Ok(page(
        &state,
        &session,
        "pages/admin_users.html",
        "Users",
        &Errors::default(),
        context! {
            users,
            flash,
            q => text,
            searched => !text.is_empty(),
            total,
            first,
            last,
            page_no,
            pages,
            href_prefix,
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

fn role_items() -> Vec<minijinja::Value> {
    Role::STAFF
        .iter()
        .map(|r| context! { value => r.as_str(), text => r.label() })
        .collect()
}

#[tracing::instrument(skip_all)]
pub async fn new_user_form(
    State(state): State<AppState>,
    session: Session,
    _: Allowed<ManageUsers>,
) -> AppResult<Response> {
    Ok(page(
        &state,
        &session,
        "pages/admin_new_user.html",
        "Add a staff account",
        &Errors::default(),
        context! { roles => role_items(), full_name => "", email => "", role => "" },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn new_user(
    State(state): State<AppState>,
    session: Session,
    Allowed { actor, ip, .. }: Allowed<ManageUsers>,
    PostedForm(form): PostedForm<NewUserForm>,
) -> AppResult<Response> {
    match accounts::create_staff(
        &state.app,
        actor.user_id,
        &form.full_name,
        &form.email,
        &form.role,
        &ip,
    )
    .await?
    {
        NewStaffOutcome::Created { email, .. } => {
            session
                .flash(
                    &state.store,
                    format!(
                        "Account created for {email}. They have been emailed how to set their password."
                    ),
                )
                .await?;
            Ok(see_other("/admin/users"))
        }
        NewStaffOutcome::Invalid(e) => Ok(page(
            &state,
            &session,
            "pages/admin_new_user.html",
            "Add a staff account",
            &errors_of(e),
            context! { roles => role_items(), full_name => &form.full_name, email => &form.email, role => &form.role },
        )),
    }
}

/// The audit search's filters as typed (GET parameters), kept to show them again.
#[derive(Deserialize, Default, Serialize, Clone)]
#[serde(default)]
pub struct AuditQuery {
    /// A person record's id (the person index's).
    person: String,
    /// A referral's reference number ("EH-…").
    reference: String,
    /// A user's email address: what they did.
    user: String,
    #[serde(rename = "from-day")]
    from_day: String,
    #[serde(rename = "from-month")]
    from_month: String,
    #[serde(rename = "from-year")]
    from_year: String,
    #[serde(rename = "to-day")]
    to_day: String,
    #[serde(rename = "to-month")]
    to_month: String,
    #[serde(rename = "to-year")]
    to_year: String,
    page: String,
}

impl AuditQuery {
    /// The query string of these filters (no page), for the page links.
    fn filters(&self) -> String {
        let q = AuditQuery {
            page: String::new(),
            ..self.clone()
        };
        let pairs: Vec<(&str, String)> = [
            ("person", q.person),
            ("reference", q.reference),
            ("user", q.user),
            ("from-day", q.from_day),
            ("from-month", q.from_month),
            ("from-year", q.from_year),
            ("to-day", q.to_day),
            ("to-month", q.to_month),
            ("to-year", q.to_year),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    object: String,
    outcome: String,
    ip: String,
}

/// Rows per page of the audit log.
const AUDIT_PAGE: i64 = 100;

/// A day typed as three fields, as the first instant of that day in UTC (the log's time).
/// `None` when all three are empty.
fn day_start(
    errors: &mut Errors,
    id: &str,
    subject: &str,
    (d, m, y): (&str, &str, &str),
) -> Option<time::OffsetDateTime> {
    if [d, m, y].iter().all(|p| p.trim().is_empty()) {
        return None;
    }
    match ehm_domain::referral::dob::parse_date_input(d, m, y) {
        Ok(date) => Some(date.midnight().assume_utc()),
        Err(e) => {
            errors.add(&format!("{id}-{}", e.parts.first()), e.message(subject, ""));
            None
        }
    }
}

/// The search's filters, or what is wrong with them.
async fn audit_filter(state: &AppState, q: &AuditQuery) -> AppResult<(AuditFilter, Errors)> {
    let mut errors = Errors::default();
    let mut f = AuditFilter::default();
    let person = q.person.trim();
    let reference = q.reference.trim();
    if !person.is_empty() && !reference.is_empty() {
        errors.add("person", "Search for a person or a referral, not both");
    } else if !person.is_empty() {
        match PersonId::parse(person) {
            Ok(p) => {
                f.object_type = Some("person".into());
                f.object_id = Some(p.to_string());
            }
            Err(_) => errors.add("person", "Person ID must be 64 characters or less"),
        }
    } else if !reference.is_empty() {
        match ReferenceNumber::parse(reference) {
            Ok(r) => {
                // Referrals are audited by their row id; the tray's search finds a
                // submitted referral by its reference (drafts have none).
                let found = state
                    .store
                    .work_tray(
                        &TrayFilter {
                            search: Some(r.to_string()),
                            ..Default::default()
                        },
                        TraySort::Received,
                        false,
                        1,
                        0,
                    )
                    .await?;
                f.object_type = Some("referral".into());
                // No such referral: a search that finds nothing, not an error.
                f.object_id = Some(
                    found
                        .rows
                        .first()
                        .map(|row| row.id.to_string())
                        .unwrap_or_else(|| "none".into()),
                );
            }
            Err(_) => errors.add(
                "reference",
                "Enter a reference number in the right format, like EH-7KQ4-MCX4",
            ),
        }
    }
    let user = q.user.trim();
    if !user.is_empty() {
        match state.store.user_by_email(user).await? {
            Some(u) => f.user_id = Some(u.id),
            None => errors.add("user", "There is no account with this email address"),
        }
    }
    f.from = day_start(
        &mut errors,
        "from",
        "The first day",
        (&q.from_day, &q.from_month, &q.from_year),
    );
    // Up to the end of the last day.
    f.to = day_start(
        &mut errors,
        "to",
        "The last day",
        (&q.to_day, &q.to_month, &q.to_year),
    )
    .map(|t| t + time::Duration::days(1));
    if let (Some(from), Some(to)) = (f.from, f.to)
        && to <= from
    {
        errors.add(
            "to-day",
            "The last day must be the same as or after the first day",
        );
    }
    Ok((f, errors))
}

/// The audit log, newest first, searchable by person, referral, user and days
/// (GET parameters, so a search can be bookmarked and paged), 100 rows a page.
#[tracing::instrument(skip_all)]
pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    Allowed { actor, ip, .. }: Allowed<ViewAudit>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let page_no = page_number(&q.page);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    let (filter, errors) = audit_filter(&state, &q).await?;
    let Some(ehm_app::audit::LogPage {
        rows: found,
        total,
        emails,
    }) = ehm_app::audit::search_log(
        &state.app,
        actor,
        errors.is_empty().then_some(&filter),
        AUDIT_PAGE,
        (page_no - 1) * AUDIT_PAGE,
        &ip,
    )
    .await?
    else {
        return Err(AppError::Forbidden);
    };
    let rows: Vec<AuditRow> = found
        .into_iter()
        .map(|r| AuditRow {
            at: r.at.format(&f).unwrap_or_default(),
            actor: match r.actor_user_id {
                Some(i) => match emails.get(&i) {
                    Some(e) => format!("{e} (user {i})"),
                    None => format!("user {i}"),
                },
                None => "anonymous".into(),
            },
            action: r.action,
            object: format!("{} {}", r.object_type, r.object_id),
            outcome: r.outcome,
            ip: r.ip,
        })
        .collect();
    let filters = q.filters();
    let href_prefix = if filters.is_empty() {
        "/admin/audit?page=".to_string()
    } else {
        format!("/admin/audit?{filters}&page=")
    };
    let searched = !filters.is_empty();
    let (first, last, pages) = match span_or_last(page_no, AUDIT_PAGE, total, &href_prefix) {
        Ok(span) => span,
        Err(last_page) => return Ok(see_other(&last_page)),
    };
    Ok(page(
        &state,
        &session,
        "pages/admin_audit.html",
        "Audit log",
        &errors,
        context! {
            rows,
            page_no,
            pages,
            total,
            first,
            last,
            href_prefix,
            searched,
            q,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn a_page_spans_its_rows_and_a_page_past_the_end_has_none() {
        assert_eq!(span(1, 50, 0), Some((1, 0, 1)));
        assert_eq!(span(1, 50, 56), Some((1, 50, 2)));
        assert_eq!(span(2, 50, 56), Some((51, 56, 2)));
        assert_eq!(span(2, 50, 100), Some((51, 100, 2)));
        assert_eq!(span(3, 50, 100), None);
        assert_eq!(span(2, 50, 0), None);
    }
}
