//! The work tray: filters as GET parameters (the MOJ filter pattern), sorting
//! announced with `aria-sort`, search, pagination; everything works without JavaScript.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use ehm_app::mash::tray::{self, TrayOutcome, TrayQuery};
use ehm_domain::mash::{ReferralStatus, WaitingState};
use ehm_domain::referral::ReferralType;
use ehm_storage::{AssignedFilter, TraySort};
use minijinja::context;
use serde::Serialize;

use super::working_time;
use crate::client::ClientIp;
use crate::error::{AppError, AppResult};
use crate::guard::actor;
use crate::render::{Errors, page};
use crate::routes::referrals::date_time;
use crate::session::Session;
use crate::state::AppState;

/// The query string, parsed leniently: anything unknown is ignored, never an error page.
#[derive(Debug, Default, Clone)]
struct Params {
    status: Vec<String>,
    service: String,
    worker: String,
    overdue: bool,
    q: String,
    sort: String,
    order: String,
    page: i64,
}

fn params(raw: Option<&str>) -> Params {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    let mut p = Params {
        page: 1,
        ..Default::default()
    };
    for (k, v) in pairs.into_iter().take(100) {
        let v: String = v.chars().take(100).collect();
        match k.as_str() {
            "status" => p.status.push(v),
            "service" => p.service = v,
            "worker" => p.worker = v,
            "overdue" => p.overdue = !v.is_empty(),
            "q" => p.q = v,
            "sort" => p.sort = v,
            "order" => p.order = v,
            "page" => p.page = v.parse().unwrap_or(1).clamp(1, 100_000),
            _ => {}
        }
    }
    p
}

fn sort_of(code: &str) -> Option<TraySort> {
    match code {
        "received" => Some(TraySort::Received),
        "due" => Some(TraySort::Due),
        "reference" => Some(TraySort::Reference),
        "status" => Some(TraySort::Status),
        _ => None,
    }
}

fn sort_code(s: TraySort) -> &'static str {
    match s {
        TraySort::Received => "received",
        TraySort::Due => "due",
        TraySort::Reference => "reference",
        TraySort::Status => "status",
    }
}

#[derive(Serialize)]
struct Row {
    href: String,
    reference: String,
    child: String,
    age: String,
    service: String,
    received: String,
    waited: String,
    waiting: &'static str,
    waiting_code: &'static str,
    status: &'static str,
    worker: String,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    text: String,
    checked: bool,
}

#[derive(Serialize)]
struct Column {
    key: &'static str,
    label: &'static str,
    href: String,
    aria_sort: &'static str,
}

/// The query string for the same filters with `extra` changed.
fn link(p: &Params, sort: &str, order: &str, page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for s in &p.status {
        pairs.push(("status", s.clone()));
    }
    for (k, v) in [("service", &p.service), ("worker", &p.worker), ("q", &p.q)] {
        if !v.is_empty() {
            pairs.push((k, v.clone()));
        }
    }
    if p.overdue {
        pairs.push(("overdue", "yes".into()));
    }
    pairs.push(("sort", sort.into()));
    pairs.push(("order", order.into()));
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    format!(
        "/mash?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// "9", "about 9" (an estimated date of birth), "Unborn"; one per child.
fn ages(dobs: Option<&str>, today: time::Date) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    dobs.unwrap_or("")
        .split(';')
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d == "unborn" {
                return "Unborn".to_string();
            }
            let estimated = d.ends_with('~');
            match time::Date::parse(d.trim_end_matches('~'), &f) {
                Ok(date) => {
                    let mut age = today.year() - date.year();
                    if (today.month() as u8, today.day()) < (date.month() as u8, date.day()) {
                        age -= 1;
                    }
                    let age = age.max(0);
                    if estimated {
                        format!("about {age}")
                    } else {
                        age.to_string()
                    }
                }
                Err(_) => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tracing::instrument(skip_all)]
pub async fn tray(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    let p = params(raw.as_deref());
    let statuses: Vec<ReferralStatus> = p
        .status
        .iter()
        .filter_map(|s| ReferralStatus::parse(s).ok())
        .collect();
    let workers: Vec<(i64, String)> = ehm_app::mash::workflow::workers(&state.app)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let assigned = match p.worker.as_str() {
        "" => None,
        "none" => Some(AssignedFilter::Unassigned),
        "me" => Some(AssignedFilter::To(actor.user_id)),
        id => id.parse().ok().map(AssignedFilter::To),
    };
    let service = ReferralType::ALL
        .iter()
        .find(|t| t.code() == p.service)
        .map(|t| t.code().to_string());
    let query = TrayQuery {
        statuses: statuses.clone(),
        service: service.clone(),
        assigned,
        overdue: p.overdue,
        search: Some(p.q.trim().to_string()).filter(|s| !s.is_empty()),
        sort: sort_of(&p.sort),
        descending: p.order == "descending",
        page: p.page,
    };
    let t = match tray::tray(&state.app, actor, &query, &ip).await? {
        TrayOutcome::Shown(t) => t,
        TrayOutcome::NotAllowed => return Err(AppError::Forbidden),
    };
    let today = time::OffsetDateTime::now_utc().date();
    let rows: Vec<Row> = t
        .items
        .iter()
        .map(|i| {
            let (waiting, waiting_code) = match i.waiting {
                Some(WaitingState::Overdue) => ("Overdue", "overdue"),
                Some(WaitingState::DueSoon) => ("Due soon", "due-soon"),
                Some(WaitingState::OnTime) => ("On time", "on-time"),
                None => ("Decided", "decided"),
            };
            Row {
                href: format!("/mash/referrals/{}", i.row.public_id),
                reference: i.row.reference.clone().unwrap_or_default(),
                child: i.row.child_display.clone().unwrap_or_default(),
                age: ages(i.row.child_dobs.as_deref(), today),
                service: i
                    .row
                    .referral_type
                    .as_deref()
                    .and_then(|c| ReferralType::ALL.iter().find(|t| t.code() == c))
                    .map(|t| t.label().to_string())
                    .unwrap_or_default(),
                received: i.row.submitted_at.map(date_time).unwrap_or_default(),
                waited: i.waited.map(working_time).unwrap_or_default(),
                waiting,
                waiting_code,
                status: i.row.status.label(),
                worker: i
                    .row
                    .assigned_name
                    .clone()
                    .unwrap_or_else(|| "Not allocated".into()),
            }
        })
        .collect();
    let current = sort_code(t.sort);
    let order = if t.descending {
        "descending"
    } else {
        "ascending"
    };
    let columns: Vec<Column> = [
        ("reference", "Reference"),
        ("received", "Received"),
        ("due", "Decision due"),
        ("status", "Status"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let active = key == current;
        let next = if active && !t.descending {
            "descending"
        } else {
            "ascending"
        };
        Column {
            key,
            label,
            href: link(&p, key, next, 1),
            aria_sort: if active { order } else { "none" },
        }
    })
    .collect();
    let status_choices: Vec<Choice> = ReferralStatus::IN_TRAY
        .iter()
        .map(|s| Choice {
            value: s.code().into(),
            text: s.label().into(),
            checked: statuses.contains(s),
        })
        .collect();
    let service_choices: Vec<Choice> = ReferralType::ALL
        .iter()
        .map(|s| Choice {
            value: s.code().into(),
            text: s.label().into(),
            checked: service.as_deref() == Some(s.code()),
        })
        .collect();
    let mut worker_choices = vec![
        Choice {
            value: "me".into(),
            text: "Allocated to me".into(),
            checked: p.worker == "me",
        },
        Choice {
            value: "none".into(),
            text: "Not allocated".into(),
            checked: p.worker == "none",
        },
    ];
    worker_choices.extend(workers.iter().map(|(id, name)| Choice {
        value: id.to_string(),
        text: name.clone(),
        checked: p.worker == id.to_string(),
    }));
    let first = (t.page - 1) * tray::PAGE_SIZE + 1;
    let last = (first + rows.len() as i64 - 1).max(0);
    let pages: Vec<minijinja::Value> = (1..=t.pages)
        .filter(|n| *n == 1 || *n == t.pages || (*n - t.page).abs() <= 2)
        .map(|n| context! { number => n, href => link(&p, current, order, n), current => n == t.page })
        .collect();
    Ok(page(
        &state,
        &session,
        "pages/mash/tray.html",
        "Work tray",
        &Errors::default(),
        context! {
            rows,
            columns,
            status_choices,
            service_choices,
            worker_choices,
            overdue => p.overdue,
            q => &p.q,
            sort => current,
            order,
            total => t.total,
            first,
            last,
            page_no => t.page,
            page_count => t.pages,
            pages,
            prev_href => (t.page > 1).then(|| link(&p, current, order, t.page - 1)),
            next_href => (t.page < t.pages).then(|| link(&p, current, order, t.page + 1)),
            filtered => !p.status.is_empty() || service.is_some() || !p.worker.is_empty() || p.overdue || !p.q.is_empty(),
        },
    ))
}
