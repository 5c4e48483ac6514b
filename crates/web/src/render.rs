//! Page rendering with minijinja. Templates are built into the binary (or read from
//! `EHM_TEMPLATES_DIR` for development), all parsed at start-up so that a broken template
//! stops the start, not a user's request, and rendered with a base context every page shares.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context, path_loader};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::assets::{StaticFiles, TemplateSource, embedded_template};
use crate::session::Session;
use crate::state::AppState;

pub struct Templates {
    env: Environment<'static>,
    /// Signed-out pages as rendered, with a placeholder where the visitor's CSRF token
    /// goes: they differ only by that token, and rendering the GOV.UK layout is most of
    /// what a signed-out page costs.
    signed_out: Mutex<HashMap<PageKey, Arc<str>>>,
    /// The placeholder: random per process, the same length and alphabet as a token.
    placeholder: String,
}

/// What a signed-out page is rendered from, besides the token.
#[derive(Hash, PartialEq, Eq)]
struct PageKey {
    template: String,
    title: String,
    status: u16,
    extra: Value,
}

/// At most this many signed-out pages are kept (there are a dozen or so; pages whose
/// context varies, such as error pages, just come and go).
const SIGNED_OUT_PAGES: usize = 256;

static FOR_ERRORS: OnceLock<Arc<Environment<'static>>> = OnceLock::new();

impl Templates {
    pub fn load(source: &TemplateSource, assets: Arc<StaticFiles>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        match source {
            TemplateSource::Embedded => env.set_loader(|name| Ok(embedded_template(name))),
            TemplateSource::Dir(dir) => {
                if !dir.join("layout.html").is_file() {
                    anyhow::bail!(
                        "templates not found: {} has no layout.html (EHM_TEMPLATES_DIR)",
                        dir.display()
                    );
                }
                env.set_loader(path_loader(dir))
            }
        }
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        // `static_url('app.css')` → `/static/<hash>/app.css`, cached for a year.
        // Template authors write the path; the hash is hex: nothing to escape.
        env.add_function("static_url", move |path: &str| {
            Value::from_safe_string(assets.url(path))
        });
        env.add_function("textarea", crate::components::textarea);
        env.add_function("button", crate::components::button);
        env.add_function("csrf", crate::components::csrf);
        env.add_function("back_link", crate::components::back_link);
        env.add_function("radios", crate::components::radios);
        // Fail at start-up, not on a user's request, if a template does not parse.
        let names = source.names()?;
        if !names.iter().any(|n| n == "layout.html") {
            anyhow::bail!("templates not found: no layout.html");
        }
        for name in names {
            env.get_template(&name)
                .map_err(|e| anyhow::anyhow!("template {name}: {e:#}"))?;
        }
        let _ = FOR_ERRORS.set(Arc::new(env.clone()));
        use base64::Engine;
        let placeholder =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::auth::random_bytes(32));
        Ok(Self {
            env,
            signed_out: Mutex::new(HashMap::new()),
            placeholder,
        })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// A signed-out page: rendered once with the placeholder for the token (`ctx` holds
    /// the real one, so the page is rendered with the placeholder in its place), then
    /// served from memory with the visitor's token put in.
    fn render_signed_out(
        &self,
        name: &str,
        title: &str,
        status: StatusCode,
        extra: Option<Value>,
        token: &str,
        ctx: Value,
    ) -> Result<String, minijinja::Error> {
        let Some(extra) = extra else {
            return self.render(name, ctx);
        };
        let key = PageKey {
            template: name.to_owned(),
            title: title.to_owned(),
            status: status.as_u16(),
            extra,
        };
        let cached = self
            .signed_out
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned());
        let page = match cached {
            Some(page) => page,
            None => {
                let ctx = context! { csrf_token => &self.placeholder, ..ctx };
                let page: Arc<str> = self.render(name, ctx)?.into();
                if let Ok(mut m) = self.signed_out.lock() {
                    if m.len() >= SIGNED_OUT_PAGES {
                        m.clear();
                    }
                    m.insert(key, page.clone());
                }
                page
            }
        };
        Ok(page.replace(&self.placeholder, token))
    }
}

/// `20000` → `"20,000"`, as GOV.UK content and the character count script write numbers
/// (the domain's `format_thousands`, with a sign).
pub(crate) fn thousands(n: i64) -> String {
    let digits = ehm_domain::referral::text::format_thousands(
        usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
    );
    if n < 0 { format!("-{digits}") } else { digits }
}

/// Characters left before `maxlength` in a text answer (negative when over), counted as
/// the server counts them when it checks the limit (`ehm_domain` `character_count`). No
/// answer yet counts as empty.
pub(crate) fn characters_left(value: Value, maxlength: i64) -> i64 {
    let used = value
        .as_str()
        .map(ehm_domain::referral::character_count)
        .unwrap_or(0);
    maxlength - i64::try_from(used).unwrap_or(i64::MAX)
}

/// The character count's message for `left` characters left (negative: over the limit),
/// in the words of the govuk-frontend script ("You have 4,950 characters remaining",
/// "You have 1 character too many"), for the `textarea` component.
pub(crate) fn character_count_message(left: i64) -> String {
    let plural = |n: i64| if n == 1 { "" } else { "s" };
    match left {
        n if n >= 0 => format!("You have {} character{} remaining", thousands(n), plural(n)),
        n => format!(
            "You have {} character{} too many",
            thousands(-n),
            plural(-n)
        ),
    }
}

/// A field error as the error summary and the inline message need it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Default, Clone)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl ToString) {
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError {
                field: field.to_string(),
                message: message.to_string(),
            });
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn map(&self) -> std::collections::BTreeMap<String, String> {
        self.0
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect()
    }
}

#[derive(Serialize)]
struct NavItem {
    href: &'static str,
    text: &'static str,
    active: bool,
}

/// Render `template` with the shared context plus `extra`.
pub fn page(
    state: &AppState,
    session: &Session,
    template: &str,
    title: &str,
    errors: &Errors,
    extra: Value,
) -> Response {
    page_with_status(
        state,
        session,
        StatusCode::OK,
        template,
        title,
        errors,
        extra,
    )
}

pub fn page_with_status(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    template: &str,
    title: &str,
    errors: &Errors,
    extra: Value,
) -> Response {
    let s = &state.settings;
    let user = session.user();
    let nav = user.map(|u| nav_for(u.role)).unwrap_or_default();
    let extra_key = if user.is_none() && errors.is_empty() {
        Some(extra.clone())
    } else {
        None
    };
    let ctx = context! {
        service_name => &s.service_name,
        organisation_name => &s.organisation_name,
        mash_phone => &s.mash_phone,
        demo => s.demo,
        page_title => title,
        csrf_token => session.csrf_token(),
        user => user.map(|u| context! { display_name => &u.display_name, email => &u.email, role => u.role.as_str(), role_label => u.role.label() }),
        nav => nav,
        session_timeout_seconds => user.map(|_| s.session_idle.whole_seconds()),
        session_expires_at => session.expires_at.map(|t| t.unix_timestamp()),
        // The server's clock for the page: how long until it signs the person out.
        session_expires_in_ms => user.and(session.expires_at).map(|t| {
            (t - time::OffsetDateTime::now_utc()).whole_milliseconds().max(0) as i64
        }),
        // Typing in a page counts as activity, sent at most this often.
        session_activity_seconds => (s.session_idle.whole_seconds() / 10).clamp(1, 60),
        session_warning_seconds => s.session_warning.whole_seconds(),
        errors => errors.map(),
        errors_list => &errors.0,
        ..extra
    };
    let status = if errors.is_empty() {
        status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let signed_out = user.is_none() && errors.is_empty();
    let rendered = if signed_out {
        state.templates.render_signed_out(
            template,
            title,
            status,
            extra_key,
            session.csrf_token(),
            ctx,
        )
    } else {
        state.templates.render(template, ctx)
    };
    match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %format!("{e:#}"), "template failed");
            crate::error::AppError::Internal(anyhow::anyhow!("template {template}")).into_response()
        }
    }
}

fn nav_for(role: ehm_domain::account::Role) -> Vec<NavItem> {
    use ehm_domain::account::Role::*;
    let mut items = vec![NavItem {
        href: "/",
        text: "Home",
        active: false,
    }];
    match role {
        Referrer => {}
        Admin => {
            items.push(NavItem {
                href: "/admin/users",
                text: "Users",
                active: false,
            });
            items.push(NavItem {
                href: "/admin/audit",
                text: "Audit log",
                active: false,
            });
        }
        BusinessSupport | SocialWorker | Manager => {
            items.push(NavItem {
                href: "/mash",
                text: "Work tray",
                active: false,
            });
        }
    }
    items
}

/// A page for errors raised outside a handler's state, from `template` with `ctx` (plus
/// the service name); None if the templates are not loaded or the page fails.
pub fn plain_template(status: StatusCode, template: &str, ctx: Value) -> Option<Response> {
    let env = FOR_ERRORS.get()?;
    let html = env
        .get_template(template)
        .and_then(|t| t.render(context! { service_name => "Early Help referral portal", ..ctx }))
        .map_err(|e| tracing::error!(template, error = %format!("{e:#}"), "template failed"))
        .ok()?;
    Some((status, Html(html)).into_response())
}

/// A minimal page for errors raised outside a handler's state (404, 500).
pub fn plain_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = FOR_ERRORS.get().and_then(|env| {
        env.get_template("pages/message.html")
            .and_then(|t| {
                t.render(context! { page_title => title, heading => title, body => body, service_name => "Early Help referral portal" })
            })
            .ok()
    });
    match html {
        Some(h) => (status, Html(h)).into_response(),
        None => (status, format!("{title}\n\n{body}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_in_thousands() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (20_000, "20,000"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
            (-1_500, "-1,500"),
        ];
        for (n, text) in cases {
            assert_eq!(thousands(n), text, "{n}");
        }
    }

    #[test]
    fn the_character_count_message_reads_as_govuk_frontend_writes_it() {
        assert_eq!(
            character_count_message(0),
            "You have 0 characters remaining"
        );
        assert_eq!(character_count_message(1), "You have 1 character remaining");
        assert_eq!(
            character_count_message(4_950),
            "You have 4,950 characters remaining"
        );
        assert_eq!(character_count_message(-1), "You have 1 character too many");
        assert_eq!(
            character_count_message(-1_200),
            "You have 1,200 characters too many"
        );
    }

    #[test]
    fn characters_left_count_as_the_limit_check_does() {
        // "a\r\nb" is 3 characters once saved ("a\nb"); the trailing space does not count.
        assert_eq!(characters_left(Value::from("a\r\nb "), 5), 2);
        assert_eq!(characters_left(Value::from("abcdef"), 4), -2);
        assert_eq!(characters_left(Value::from("é✓"), 2), 0);
        assert_eq!(characters_left(Value::UNDEFINED, 10), 10);
        assert_eq!(characters_left(Value::from(()), 10), 10);
    }
}
