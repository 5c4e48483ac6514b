//! A browser-like HTTP client: keeps cookies (including `Secure` ones over
//! plain http://127.0.0.1) and CSRF tokens, never follows redirects by itself.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use scraper::{ElementRef, Html, Selector};

/// The name of the hidden CSRF field in every form of the app.
pub const CSRF_FIELD: &str = "csrf_token";

/// A browser-like client for one app. Cheap to share by reference: the
/// methods take `&self`.
pub struct Client {
    base_url: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    csrf: Mutex<Option<String>>,
    default_headers: Mutex<Vec<(String, String)>>,
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:43123`), no cookies.
    pub fn new(base_url: &str) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building the reqwest client");
        Client {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            cookies: Mutex::default(),
            csrf: Mutex::default(),
            default_headers: Mutex::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url + path`, or `path` itself when it is already absolute.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{}", self.base_url, path)
        } else {
            format!("{}/{}", self.base_url, path)
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, &[], None).await
    }

    /// POST an `application/x-www-form-urlencoded` form, adding the
    /// `csrf_token` from the most recent HTML page that had one, unless
    /// `fields` has a `csrf_token` already.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == CSRF_FIELD)
            && let Some(token) = self.csrf_token()
        {
            all.push((CSRF_FIELD.to_string(), token));
        }
        self.post_encoded(path, &all).await
    }

    /// Like [`Client::post_form`], but a transport error (the app was killed, the
    /// connection reset) is returned instead of panicking.
    pub async fn try_post_form(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Page> {
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == CSRF_FIELD)
            && let Some(token) = self.csrf_token()
        {
            all.push((CSRF_FIELD.to_string(), token));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&all)
            .finish();
        self.try_request(
            Method::POST,
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
        .await
    }

    /// GET `path`; a transport error is returned instead of panicking.
    pub async fn try_get(&self, path: &str) -> anyhow::Result<Page> {
        self.try_request(Method::GET, path, &[], None).await
    }

    /// POST a form exactly as given (no `csrf_token` added).
    pub async fn post_form_without_csrf(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.post_encoded(path, &all).await
    }

    async fn post_encoded(&self, path: &str, fields: &[(String, String)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.request(
            Method::POST,
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
        .await
    }

    /// Follows `page`'s redirects with GETs (at most 10) and returns the
    /// first non-redirect page; returns `page` itself when it is no redirect.
    pub async fn follow(&self, page: Page) -> Page {
        let mut page = page;
        for _ in 0..10 {
            match (page.is_redirect(), page.location.clone()) {
                (true, Some(loc)) => {
                    let next = resolve(&page.url, &loc);
                    page = self.get(&next).await;
                }
                _ => return page,
            }
        }
        panic!("more than 10 redirects, last to {:?}", page.location);
    }

    /// GET `path` and follow redirects.
    pub async fn get_following(&self, path: &str) -> Page {
        let page = self.get(path).await;
        self.follow(page).await
    }

    /// A `multipart/form-data` POST like a browser's file upload: `fields` first (with the
    /// page's CSRF token added unless given), then one file part `(name, file_name,
    /// content_type, bytes)`.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, Vec<u8>),
    ) -> Page {
        let boundary = format!("----ehm-testkit-{}", crate::unique_suffix());
        let mut body = Vec::new();
        let mut part = |name: &str, extra: &str, content: &[u8]| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        let has_csrf = fields.iter().any(|(k, _)| *k == CSRF_FIELD);
        if !has_csrf && let Some(token) = self.csrf_token() {
            part(CSRF_FIELD, "", token.as_bytes());
        }
        for (k, v) in fields {
            part(k, "", v.as_bytes());
        }
        let (name, file_name, content_type, bytes) = file;
        part(
            name,
            &format!("; filename=\"{file_name}\"\r\nContent-Type: {content_type}"),
            &bytes,
        );
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.request(
            Method::POST,
            path,
            &[("content-type", ct.as_str())],
            Some(body),
        )
        .await
    }

    /// `post_form` and follow redirects.
    pub async fn post_form_following(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post_form(path, fields).await;
        self.follow(page).await
    }

    /// Any request. `headers` are added to the cookie header and the
    /// defaults; panics on a transport error (the app is expected to answer).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Page {
        match self.try_request(method.clone(), path, headers, body).await {
            Ok(page) => page,
            Err(e) => panic!("{method} {}: {e:#}", self.url(path)),
        }
    }

    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Page> {
        let url = self.url(path);
        let mut req = self.http.request(method, &url);
        for (k, v) in self.default_headers.lock().unwrap().iter() {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(cookie) = self.cookie_header() {
            req = req.header(header::COOKIE, cookie);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.store_cookies(&headers);
        let raw = resp.bytes().await?.to_vec();
        let body = String::from_utf8_lossy(&raw).into_owned();
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page = Page {
            status,
            headers,
            body,
            raw,
            location,
            url,
        };
        if page.is_html()
            && let Some(token) = page.form_value(CSRF_FIELD)
        {
            *self.csrf.lock().unwrap() = Some(token);
        }
        Ok(page)
    }

    /// Sends `name: value` with every later request (e.g. `user-agent`).
    pub fn set_default_header(&self, name: &str, value: &str) {
        self.default_headers
            .lock()
            .unwrap()
            .push((name.to_string(), value.to_string()));
    }

    /// The current value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// All current cookies, by name.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.cookies.lock().unwrap().clone()
    }

    /// Sets (or replaces) a cookie by hand.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    /// Forgets every cookie (like closing the browser).
    pub fn clear_cookies(&self) {
        self.cookies.lock().unwrap().clear();
    }

    /// The CSRF token scraped from the most recent HTML page that had one.
    pub fn csrf_token(&self) -> Option<String> {
        self.csrf.lock().unwrap().clone()
    }

    /// Overrides (or with `None` forgets) the remembered CSRF token.
    pub fn set_csrf_token(&self, token: Option<&str>) {
        *self.csrf.lock().unwrap() = token.map(str::to_string);
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        let cookies = self.cookies.lock().unwrap();
        if cookies.is_empty() {
            return None;
        }
        let s = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&s).ok()
    }

    /// Applies the `Set-Cookie` headers of a response. Domain and Path are
    /// ignored (one app, one host); `Secure` is ignored on purpose (the app
    /// sets `Secure` cookies even on http://127.0.0.1, which browsers allow
    /// for localhost); `Max-Age<=0` or a past `Expires` deletes.
    fn store_cookies(&self, headers: &HeaderMap) {
        let mut cookies = self.cookies.lock().unwrap();
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let Some(c) = parse_set_cookie(value) else {
                continue;
            };
            if c.expired {
                cookies.remove(&c.name);
            } else {
                cookies.insert(c.name, c.value);
            }
        }
    }
}

pub(crate) struct SetCookie {
    pub name: String,
    pub value: String,
    pub expired: bool,
}

pub(crate) fn parse_set_cookie(header: &str) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut value = value.trim();
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value = &value[1..value.len() - 1];
    }
    let mut max_age: Option<i64> = None;
    let mut expires: Option<SystemTime> = None;
    for attr in parts {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "max-age" => max_age = v.trim().parse().ok().or(Some(0)),
            "expires" => expires = httpdate::parse_http_date(v.trim()).ok(),
            _ => {}
        }
    }
    // Max-Age wins over Expires (RFC 6265 5.3).
    let expired = match max_age {
        Some(secs) => secs <= 0,
        None => expires.is_some_and(|t| t <= SystemTime::now()),
    };
    Some(SetCookie {
        name: name.to_string(),
        value: value.to_string(),
        expired,
    })
}

/// Resolves a `Location` against the URL of the page that sent it.
fn resolve(base: &str, location: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(location)) {
        Ok(u) => u.to_string(),
        Err(_) => location.to_string(),
    }
}

/// One HTTP response, with helpers to look into its HTML.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// The body exactly as received (for PDFs and downloads).
    pub raw: Vec<u8>,
    /// The `Location` header, as sent.
    pub location: Option<String>,
    /// The URL that was requested.
    pub url: String,
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn element_text(e: &ElementRef) -> String {
    normalize(&e.text().collect::<String>())
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad CSS selector {css:?}: {e}"))
}

impl Page {
    /// The parsed HTML document.
    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    pub fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"))
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// Every `Set-Cookie` header, as sent (to assert attributes).
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    /// The text a person would read (tags removed, whitespace collapsed).
    /// Not HTML? The body itself, whitespace collapsed.
    pub fn text(&self) -> String {
        if !self.body.contains('<') {
            return normalize(&self.body);
        }
        let html = self.html();
        let body = selector("body");
        match html.select(&body).next() {
            Some(b) => element_text(&b),
            None => element_text(&html.root_element()),
        }
    }

    /// Whether the page's text contains `s` (both whitespace-collapsed).
    pub fn text_contains(&self, s: &str) -> bool {
        self.text().contains(&normalize(s))
    }

    /// The `<title>`, whitespace-collapsed ("" if none).
    pub fn title(&self) -> String {
        self.select("title").into_iter().next().unwrap_or_default()
    }

    /// The texts of the `<h1>` elements.
    pub fn h1(&self) -> Vec<String> {
        self.select("h1")
    }

    /// The links of the GOV.UK error summary (`.govuk-error-summary__list a`).
    pub fn error_summary(&self) -> Vec<String> {
        self.select(".govuk-error-summary__list a")
    }

    /// The texts (whitespace-collapsed) of the elements matching `css`.
    pub fn select(&self, css: &str) -> Vec<String> {
        let html = self.html();
        html.select(&selector(css))
            .map(|e| element_text(&e))
            .collect()
    }

    /// The values of attribute `attr` of the elements matching `css`.
    pub fn select_attr(&self, css: &str, attr: &str) -> Vec<String> {
        let html = self.html();
        html.select(&selector(css))
            .filter_map(|e| e.value().attr(attr).map(str::to_string))
            .collect()
    }

    /// The value a browser would submit for field `name`: an `<input>`'s
    /// value (for checkboxes and radios, the checked one's), a
    /// `<textarea>`'s text, or a `<select>`'s selected option.
    pub fn form_value(&self, name: &str) -> Option<String> {
        let html = self.html();
        let esc = name.replace('\\', "\\\\").replace('"', "\\\"");
        for e in html.select(&selector(&format!("[name=\"{esc}\"]"))) {
            let v = e.value();
            match v.name() {
                "input" => {
                    let ty = v.attr("type").unwrap_or("text").to_ascii_lowercase();
                    if (ty == "checkbox" || ty == "radio") && v.attr("checked").is_none() {
                        continue;
                    }
                    return Some(
                        v.attr("value")
                            .unwrap_or(if ty == "checkbox" { "on" } else { "" })
                            .to_string(),
                    );
                }
                "textarea" => return Some(e.text().collect::<String>()),
                "select" => {
                    let opt = selector("option");
                    let options: Vec<ElementRef> = e.select(&opt).collect();
                    let chosen = options
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(options.first());
                    return chosen.map(|o| {
                        o.value()
                            .attr("value")
                            .map(str::to_string)
                            .unwrap_or_else(|| element_text(o))
                    });
                }
                _ => {}
            }
        }
        None
    }

    /// Panics with the page (status, location, start of the body) unless
    /// its status is `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        if self.status != status {
            let body: String = self.body.chars().take(3000).collect();
            panic!(
                "{}: expected status {status}, got {} (location {:?})\n{body}",
                self.url, self.status, self.location
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_parsing() {
        let c = parse_set_cookie("__Host-ehm_session=abc; Secure; HttpOnly; SameSite=Lax; Path=/")
            .unwrap();
        assert_eq!(
            (c.name.as_str(), c.value.as_str(), c.expired),
            ("__Host-ehm_session", "abc", false)
        );
        assert!(parse_set_cookie("a=; Max-Age=0; Path=/").unwrap().expired);
        assert!(
            parse_set_cookie("a=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .expired
        );
        assert!(
            !parse_set_cookie("a=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT")
                .unwrap()
                .expired
        );
        assert!(
            !parse_set_cookie("a=x; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .expired
        );
        assert_eq!(parse_set_cookie("a=\"q\"").unwrap().value, "q");
        assert!(parse_set_cookie("novalue").is_none());
    }

    #[test]
    fn page_helpers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let page = Page {
            status: 200,
            headers,
            raw: Vec::new(),
            body: r##"<!doctype html><html><head><title> Start  page </title></head><body>
                <div class="govuk-error-summary"><ul class="govuk-error-summary__list">
                <li><a href="#name">Enter a name</a></li><li><a href="#dob">Enter a  date</a></li></ul></div>
                <h1>Make a
                referral</h1>
                <form><input type="hidden" name="csrf_token" value="t0k">
                <input name="name" value="Sam">
                <input type="radio" name="consent" value="no"><input type="radio" name="consent" value="yes" checked>
                <textarea name="notes">Line 1</textarea>
                <select name="la"><option value="a">A</option><option value="b" selected>B</option></select>
                </form></body></html>"##
                .to_string(),
            location: None,
            url: "http://x/".to_string(),
        };
        assert_eq!(page.title(), "Start page");
        assert_eq!(page.h1(), vec!["Make a referral"]);
        assert_eq!(page.error_summary(), vec!["Enter a name", "Enter a date"]);
        assert!(page.text_contains("Make a referral"));
        assert_eq!(page.form_value("csrf_token").as_deref(), Some("t0k"));
        assert_eq!(page.form_value("name").as_deref(), Some("Sam"));
        assert_eq!(page.form_value("consent").as_deref(), Some("yes"));
        assert_eq!(page.form_value("notes").as_deref(), Some("Line 1"));
        assert_eq!(page.form_value("la").as_deref(), Some("b"));
        assert_eq!(page.form_value("missing"), None);
        assert_eq!(resolve("http://h:1/a/b", "/c"), "http://h:1/c");
        assert_eq!(resolve("http://h:1/a/b", "c?x=1"), "http://h:1/a/c?x=1");
    }
}
