//! Extractors shared by the routes: where a signed-out person is in a sign-in journey.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ehm_app::accounts::Pending;
use ehm_storage::User;
use std::marker::PhantomData;

use crate::routes::see_other;
use crate::session::{Session, Stage};
use crate::state::AppState;

/// A stage of a sign-in journey, and where to send someone who is not at it.
pub trait StageMarker: Send + Sync + 'static {
    const STAGE: Stage;
    const OTHERWISE: &'static str;
}

macro_rules! stage {
    ($name:ident, $stage:expr, $otherwise:expr) => {
        pub struct $name;
        impl StageMarker for $name {
            const STAGE: Stage = $stage;
            const OTHERWISE: &'static str = $otherwise;
        }
    };
}

stage!(ConfirmingEmail, Stage::VerifyEmail, "/register");
stage!(EnteringLoginCode, Stage::LoginCode, "/sign-in");
stage!(EnteringTotp, Stage::Totp, "/sign-in");
stage!(EnrollingTotp, Stage::TotpEnrol, "/sign-in");
stage!(ResettingPassword, Stage::ResetPassword, "/forgot-password");

/// The session, which is at stage `M`, and whose code it is waiting for. Anyone else is
/// redirected to the start of the journey.
pub struct AtStage<M: StageMarker> {
    pub session: Session,
    pub pending: Pending,
    _m: PhantomData<M>,
}

pub struct Redirect(&'static str);

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        see_other(self.0)
    }
}

impl<M: StageMarker> FromRequestParts<AppState> for AtStage<M> {
    type Rejection = Redirect;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| Redirect(M::OTHERWISE))?;
        let pending = session.pending(M::STAGE).ok_or(Redirect(M::OTHERWISE))?;
        Ok(Self {
            session,
            pending,
            _m: PhantomData,
        })
    }
}

/// Like [`AtStage`], for the steps after the password: the account itself (not disabled).
pub struct PendingUser<M: StageMarker> {
    pub session: Session,
    pub user: User,
    _m: PhantomData<M>,
}

impl<M: StageMarker> FromRequestParts<AppState> for PendingUser<M> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let at = AtStage::<M>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Pending::Account(id) = at.pending else {
            return Err(see_other(M::OTHERWISE));
        };
        match state.store.user_by_id(id).await {
            Ok(Some(user)) if !user.disabled => Ok(Self {
                session: at.session,
                user,
                _m: PhantomData,
            }),
            Ok(_) => Err(see_other(M::OTHERWISE)),
            Err(e) => Err(crate::error::AppError::from(e).into_response()),
        }
    }
}

/// The signed-in actor, the referral named by the path's `{pid}`, and the client address:
/// what every referral-scoped extractor starts from. Signed-out visitors go to sign in.
pub struct ActorOnReferral {
    pub actor: ehm_domain::access::Actor,
    pub pid: String,
    pub ip: String,
}

impl FromRequestParts<AppState> for ActorOnReferral {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let actor = crate::guard::actor(&session).map_err(IntoResponse::into_response)?;
        let axum::extract::Path(params) = axum::extract::Path::<
            std::collections::HashMap<String, String>,
        >::from_request_parts(parts, state)
        .await
        .map_err(|_| crate::error::AppError::NotFound.into_response())?;
        let pid = params
            .get("pid")
            .cloned()
            .ok_or(crate::error::AppError::NotFound.into_response())?;
        let crate::client::ClientIp(ip) = crate::client::ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or(crate::client::ClientIp("unknown".into()));
        Ok(Self { actor, pid, ip })
    }
}
