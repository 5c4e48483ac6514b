//! The MASH side: the work tray, a referral as staff see it (with the system match and
//! the workflow), person records. Access to a referral is decided once, by the
//! [`Staff`] extractor (`Permission::WorkOnReferral`); which workflow step someone may
//! take is decided by the referral's own rules in `ehm_domain::mash::workflow`.

pub mod persons;
pub mod referral;
pub mod tray;
pub mod workflow;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ehm_app::mash::{StaffReferral, open_for_staff};

use crate::error::AppError;
use crate::extract::ActorOnReferral;
use crate::state::AppState;

/// The submitted referral named by the path's `{pid}`, for MASH staff. Anyone else, and
/// a referral that does not exist, get "page not found".
pub struct Staff(pub StaffReferral);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ActorOnReferral { actor, pid, ip } =
            ActorOnReferral::from_request_parts(parts, state).await?;
        match open_for_staff(&state.app, actor, &pid, &ip).await {
            Ok(Some(r)) => Ok(Staff(r)),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// "3 hours", "1 day 2 hours": working time waited, for the tray.
pub(crate) fn working_time(d: time::Duration) -> String {
    let hours = d.whole_hours();
    let (days, hours) = (hours / 24, hours % 24);
    let plural = |n: i64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => plural(d.whole_minutes().max(0), "minute"),
        (0, h) => plural(h, "hour"),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}
