//! What an administrator reads about accounts: the account list and its search.
//! Every read is recorded: names and email addresses of professionals are
//! personal data too.

use ehm_domain::access::{Actor, Permission};
use ehm_storage::User;

use crate::audit;
use crate::{App, Result};

/// One page of [`list_accounts`].
#[derive(Debug, Clone)]
pub struct AccountPage {
    /// Staff first, then by email address.
    pub accounts: Vec<User>,
    /// Every account the search matches, on all pages.
    pub total: i64,
}

/// Accounts whose email address or name contains `text` (every account when it is
/// `None`), `limit` from `offset`; `None` when `actor` may not manage accounts (the
/// refusal is recorded).
pub async fn list_accounts(
    app: &App,
    actor: Actor,
    text: Option<&str>,
    limit: i64,
    offset: i64,
    ip: &str,
) -> Result<Option<AccountPage>> {
    let read = audit::Read {
        action: "view-accounts",
        object_type: "user",
    };
    if !read
        .allowed(app, actor, Permission::ManageUsers, ip)
        .await?
    {
        return Ok(None);
    }
    let (accounts, total) = app.store.search_users(text, limit, offset).await?;
    Ok(Some(AccountPage { accounts, total }))
}
