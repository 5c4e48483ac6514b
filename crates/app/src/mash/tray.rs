//! The work tray: every submitted referral, filtered, sorted and paged, with how
//! long each has waited against the decision target.

use ehm_domain::access::{Actor, Permission, allowed};
use ehm_domain::mash::{Calendar, ReferralStatus, WaitingState};
use ehm_storage::{AssignedFilter, TrayFilter, TrayRow, TraySort};
use time::OffsetDateTime;

use crate::audit::{self, Event};
use crate::{App, Result};

/// Rows per page.
pub const PAGE_SIZE: i64 = 25;

/// What the tray is asked for (already parsed from the page's query string).
#[derive(Debug, Clone, Default)]
pub struct TrayQuery {
    pub statuses: Vec<ReferralStatus>,
    /// A referral type code.
    pub service: Option<String>,
    pub assigned: Option<AssignedFilter>,
    /// Only referrals past their decision time.
    pub overdue: bool,
    pub search: Option<String>,
    pub sort: Option<TraySort>,
    pub descending: bool,
    /// 1-based.
    pub page: i64,
}

/// One row as the page shows it.
#[derive(Debug, Clone)]
pub struct TrayItem {
    pub row: TrayRow,
    /// None once decided (the clock has stopped).
    pub waiting: Option<WaitingState>,
    /// Working time since the referral arrived, while it awaits a decision (None once
    /// decided: the clock has stopped, and a closed referral is not "waiting").
    pub waited: Option<time::Duration>,
}

#[derive(Debug, Clone)]
pub struct Tray {
    pub items: Vec<TrayItem>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub sort: TraySort,
    pub descending: bool,
}

pub enum TrayOutcome {
    Shown(Tray),
    NotAllowed,
}

/// The tray page `q` asks for. Listing the tray is audited (who looked, when; the filter
/// is not personal data but is not recorded either).
pub async fn tray(app: &App, actor: Actor, q: &TrayQuery, ip: &str) -> Result<TrayOutcome> {
    if !allowed(actor, Permission::ViewWorkTray) {
        audit::record(
            app,
            Event {
                actor: Some(actor.user_id),
                action: "access-check",
                object_type: "work-tray",
                object_id: "all",
                outcome: "refused",
                ip,
            },
        )
        .await?;
        return Ok(TrayOutcome::NotAllowed);
    }
    let now = OffsetDateTime::now_utc();
    let filter = TrayFilter {
        statuses: q.statuses.clone(),
        service: q.service.clone(),
        assigned: q.assigned,
        overdue_at: q.overdue.then_some(now),
        search: q.search.clone().filter(|s| !s.trim().is_empty()),
    };
    let sort = q.sort.unwrap_or(TraySort::Received);
    let page = q.page.max(1);
    let found = app
        .store
        .work_tray(
            &filter,
            sort,
            q.descending,
            PAGE_SIZE,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
    let calendar = Calendar::england_and_wales();
    let target = app.settings.decision_target_days;
    let items = found
        .rows
        .into_iter()
        .map(|row| {
            let received = row.submitted_at.unwrap_or(now);
            let awaits = row.status.awaits_a_decision();
            let waiting = awaits.then(|| calendar.waiting_state(received, now, target));
            TrayItem {
                waited: awaits.then(|| calendar.working_time_between(received, now)),
                waiting,
                row,
            }
        })
        .collect();
    audit::record(
        app,
        Event {
            actor: Some(actor.user_id),
            action: "view-work-tray",
            object_type: "work-tray",
            object_id: "all",
            outcome: "success",
            ip,
        },
    )
    .await?;
    Ok(TrayOutcome::Shown(Tray {
        items,
        total: found.total,
        page,
        pages: ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        sort,
        descending: q.descending,
    }))
}
