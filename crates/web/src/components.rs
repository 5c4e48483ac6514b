//! GOV.UK Design System components written in Rust rather than as template macros, for
//! the ones on nearly every page (buttons, CSRF fields, back links) or several times on
//! the busiest (long answers): a minijinja macro call costs a few microseconds before its
//! body runs, and every macro a page imports is built again on every view.
//! Each is registered as a template function (see `render::Templates::load`) and
//! returns markup marked safe; every text it is given is HTML-escaped unless the
//! template marked it safe itself.

use std::fmt::Write;

use minijinja::value::{Kwargs, Rest, from_args};
use minijinja::{Error, ErrorKind, HtmlEscape, Value};

use crate::render::{character_count_message, characters_left, thousands};

/// A text value as a template would print it: escaped unless marked safe; none and
/// undefined print nothing.
struct Text<'a>(&'a Value);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if !present(v) {
            Ok(())
        } else if v.is_safe() {
            write!(f, "{v}")
        } else if let Some(s) = v.as_str() {
            write!(f, "{}", HtmlEscape(s))
        } else {
            write!(f, "{}", HtmlEscape(&v.to_string()))
        }
    }
}

/// A value that counts as set in a template (`{% if x %}`).
fn set(v: &Value) -> bool {
    v.is_true()
}

/// The error for field `id` in `errors` (a mapping of field id to message), if any.
fn error_for(errors: &Value, id: &str) -> Option<Value> {
    if !set(errors) {
        return None;
    }
    errors.get_item(&Value::from(id)).ok().filter(set)
}

/// A field's hint and error message (the GOV.UK macros' `_hint` and `_error_message`),
/// each on a new line starting with `indent`.
fn hint_and_error(
    out: &mut String,
    indent: &str,
    id: &HtmlEscape<'_>,
    hint: Option<&Value>,
    err: Option<&Value>,
) {
    if let Some(hint) = hint {
        let _ = write!(
            out,
            "{indent}<div id=\"{id}-hint\" class=\"govuk-hint\">\n    {}\n  </div>",
            Text(hint)
        );
    }
    if let Some(err) = err {
        let _ = write!(
            out,
            "{indent}<p id=\"{id}-error\" class=\"govuk-error-message\">\n    <span class=\"govuk-visually-hidden\">Error:</span> {}\n  </p>",
            Text(err)
        );
    }
}

/// ` aria-describedby="…"`: the ids `<id>-<suffix>` of the texts that describe a field,
/// nothing if there are none.
fn described_by(out: &mut String, id: &HtmlEscape<'_>, suffixes: &[&str]) {
    for (i, suffix) in suffixes.iter().enumerate() {
        let _ = write!(
            out,
            "{}{id}-{suffix}",
            if i == 0 { " aria-describedby=\"" } else { " " }
        );
    }
    if !suffixes.is_empty() {
        out.push('"');
    }
}

/// Present, not none nor undefined (`x is defined and x is not none`).
fn present(v: &Value) -> bool {
    !v.is_undefined() && !v.is_none()
}

/// `textarea(id, label, value, errors, maxlength=none, hint=none, optional=false, rows=5,
/// autocomplete=none, label_classes="")`:
/// a GOV.UK textarea, named and identified `id`.
///
/// With `maxlength` it is a character count rendered by the server, so the limit and
/// the count are there without JavaScript: the fallback text (`<id>-info`, "You can
/// enter up to N characters") and the count for what is saved (`<id>-status`, "You
/// have N characters remaining", red when over). With JavaScript, app.js removes
/// `<id>-status` and govuk-frontend's character count shows the same message and keeps
/// it up to date as the person types. The count is the server's own (line endings as
/// "\n"; surrounding white space does not count), so it agrees with the limit check.
pub(crate) fn textarea(
    id: &str,
    label: Value,
    value: Value,
    errors: Value,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let maxlength: Option<i64> = kwargs.get("maxlength")?;
    let hint: Option<Value> = kwargs.get("hint")?;
    let optional: Option<bool> = kwargs.get("optional")?;
    let rows: Option<i64> = kwargs.get("rows")?;
    let autocomplete: Option<Value> = kwargs.get("autocomplete")?;
    let label_classes: Option<Value> = kwargs.get("label_classes")?;
    kwargs.assert_all_used()?;
    if id.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "textarea needs an id",
        ));
    }

    let err = error_for(&errors, id);
    let id = HtmlEscape(id);
    let hint = hint.filter(set);
    let left = maxlength.map(|max| characters_left(value.clone(), max));
    let over = left.is_some_and(|n| n < 0);
    let label_classes = label_classes.filter(set);

    let mut out = String::with_capacity(1024 + value.as_str().map_or(0, |s| s.len() * 11 / 10));
    let mut described = Vec::with_capacity(4);
    if maxlength.is_some() {
        described.extend(["info", "status"]);
    }
    if hint.is_some() {
        described.push("hint");
    }
    if err.is_some() {
        described.push("error");
    }

    let _ = write!(
        out,
        "<div class=\"govuk-form-group{}",
        if err.is_some() {
            " govuk-form-group--error"
        } else {
            ""
        }
    );
    if let Some(max) = maxlength {
        let _ = write!(
            out,
            " govuk-character-count\" data-module=\"govuk-character-count\" data-maxlength=\"{max}"
        );
    }
    out.push_str("\">\n");

    let optional = if optional == Some(true) {
        " (optional)"
    } else {
        ""
    };
    out.push_str("  <label class=\"govuk-label");
    if let Some(classes) = &label_classes {
        let _ = write!(out, " {}", Text(classes));
    }
    let _ = write!(
        out,
        "\" for=\"{id}\">\n    {}{optional}\n  </label>",
        Text(&label)
    );
    hint_and_error(&mut out, "\n  ", &id, hint.as_ref(), err.as_ref());
    let _ = write!(
        out,
        "\n  <textarea class=\"govuk-textarea{}{}\" id=\"{id}\" name=\"{id}\" rows=\"{}\"",
        if err.is_some() || over {
            " govuk-textarea--error"
        } else {
            ""
        },
        if maxlength.is_some() {
            " govuk-js-character-count"
        } else {
            ""
        },
        rows.unwrap_or(5)
    );
    if let Some(autocomplete) = autocomplete.filter(set) {
        let _ = write!(out, " autocomplete=\"{}\"", Text(&autocomplete));
    }
    described_by(&mut out, &id, &described);
    // The newline after the start tag keeps an answer that starts with one: HTML drops
    // the first newline of a textarea's content.
    let _ = write!(out, ">\n{}</textarea>", Text(&value));
    if let (Some(max), Some(left)) = (maxlength, left) {
        let _ = write!(
            out,
            "\n  <div id=\"{id}-info\" class=\"govuk-hint govuk-character-count__message\">\n    You can enter up to {} characters\n  </div>\n  <div id=\"{id}-status\" class=\"{} govuk-character-count__message govuk-character-count__status app-character-count__server-status\">\n    {}\n  </div>",
            thousands(max),
            if over {
                "govuk-error-message"
            } else {
                "govuk-hint"
            },
            character_count_message(left)
        );
    }
    out.push_str("\n</div>");
    Ok(Value::from_safe_string(out))
}

/// `button(text, classes="", name=none, value=none, prevent_double_click=true,
/// type="submit", id=none)`: a GOV.UK button.
pub(crate) fn button(text: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let classes: Option<Value> = kwargs.get("classes")?;
    let name: Option<Value> = kwargs.get("name")?;
    let value: Option<Value> = kwargs.get("value")?;
    let prevent_double_click: Option<bool> = kwargs.get("prevent_double_click")?;
    let kind: Option<Value> = kwargs.get("type")?;
    let id: Option<Value> = kwargs.get("id")?;
    kwargs.assert_all_used()?;
    let mut out = String::with_capacity(200);
    let kind = kind.filter(set).unwrap_or_else(|| Value::from("submit"));
    let _ = write!(out, "<button type=\"{}\" class=\"govuk-button", Text(&kind));
    if let Some(classes) = classes.filter(set) {
        let _ = write!(out, " {}", Text(&classes));
    }
    out.push_str("\" data-module=\"govuk-button\"");
    if let Some(id) = id.filter(set) {
        let _ = write!(out, " id=\"{}\"", Text(&id));
    }
    if let Some(name) = name.filter(set) {
        let _ = write!(out, " name=\"{}\"", Text(&name));
    }
    if let Some(value) = value.filter(present) {
        let _ = write!(out, " value=\"{}\"", Text(&value));
    }
    if prevent_double_click.unwrap_or(true) {
        out.push_str(" data-prevent-double-click=\"true\"");
    }
    let _ = write!(out, ">\n  {}\n</button>", Text(&text));
    Ok(Value::from_safe_string(out))
}

/// `csrf(token)`: the hidden field every form posts its CSRF token in.
pub(crate) fn csrf(token: Value) -> Value {
    Value::from_safe_string(format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        Text(&token)
    ))
}

/// `back_link(href, text="Back")`: a GOV.UK back link.
pub(crate) fn back_link(href: Value, text: Option<Value>) -> Value {
    let text = text.unwrap_or_else(|| Value::from("Back"));
    Value::from_safe_string(format!(
        "<a href=\"{}\" class=\"govuk-back-link\">{}</a>",
        Text(&href),
        Text(&text)
    ))
}

/// A value as the `string` filter writes it, for comparing a radio's value with the
/// answer (`1` and `"1"` match).
fn as_string(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_owned(),
        None => v.to_string(),
    }
}

/// `radios(id, name, legend, items, value, errors, hint=none, inline=false,
/// legend_is_page_heading=false, legend_classes="govuk-fieldset__legend--m",
/// small=false)`: GOV.UK radios in a fieldset.
///
/// `items`: `[{value, text, hint?, conditional_html?}]` or `{divider: "or"}`. The first
/// radio's id is `id`, later ones `id-2`, `id-3`…, so an error summary link to `#id`
/// focuses the first. The radio whose value equals `value` (compared as strings) is
/// checked. `conditional_html` is shown when its radio is checked (with JavaScript, as
/// soon as it is chosen) and is inserted unescaped: build it in the template.
pub(crate) fn radios(
    id: &str,
    name: Value,
    legend: Value,
    items: Value,
    rest: Rest<Value>,
) -> Result<Value, Error> {
    // minijinja passes at most five arguments to a function: the rest are parsed here.
    let (value, errors, kwargs): (Value, Value, Kwargs) = from_args(&rest)?;
    let hint: Option<Value> = kwargs.get("hint")?;
    let inline: Option<bool> = kwargs.get("inline")?;
    let page_heading: Option<bool> = kwargs.get("legend_is_page_heading")?;
    let legend_classes: Option<Value> = kwargs.get("legend_classes")?;
    let small: Option<bool> = kwargs.get("small")?;
    kwargs.assert_all_used()?;
    let err = error_for(&errors, id);
    let hint = hint.filter(set);
    let chosen = present(&value).then(|| as_string(&value));
    let id = HtmlEscape(id);
    let name = Text(&name);

    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "<div class=\"govuk-form-group{}\">\n  <fieldset class=\"govuk-fieldset\"",
        if err.is_some() {
            " govuk-form-group--error"
        } else {
            ""
        }
    );
    let described: Vec<&str> = [(hint.is_some(), "hint"), (err.is_some(), "error")]
        .into_iter()
        .filter_map(|(has, suffix)| has.then_some(suffix))
        .collect();
    described_by(&mut out, &id, &described);
    out.push_str(">\n    ");
    if page_heading == Some(true) {
        let _ = write!(
            out,
            "<legend class=\"govuk-fieldset__legend govuk-fieldset__legend--l\">\n      <h1 class=\"govuk-fieldset__heading\">\n        {}\n      </h1>\n    </legend>",
            Text(&legend)
        );
    } else {
        let classes = legend_classes.unwrap_or_else(|| Value::from("govuk-fieldset__legend--m"));
        out.push_str("<legend class=\"govuk-fieldset__legend");
        if set(&classes) {
            let _ = write!(out, " {}", Text(&classes));
        }
        let _ = write!(out, "\">\n      {}\n    </legend>", Text(&legend));
    }
    hint_and_error(&mut out, "\n    ", &id, hint.as_ref(), err.as_ref());
    let _ = write!(
        out,
        "\n    <div class=\"govuk-radios{}{}\" data-module=\"govuk-radios\">",
        if inline == Some(true) {
            " govuk-radios--inline"
        } else {
            ""
        },
        if small == Some(true) {
            " govuk-radios--small"
        } else {
            ""
        }
    );
    let attr = |item: &Value, key: &str| item.get_attr(key).ok().filter(set);
    for (index, item) in items.try_iter()?.enumerate() {
        if let Some(divider) = attr(&item, "divider") {
            let _ = write!(
                out,
                "\n      <div class=\"govuk-radios__divider\">{}</div>",
                Text(&divider)
            );
            continue;
        }
        let item_id = if index == 0 {
            id.to_string()
        } else {
            format!("{id}-{}", index + 1)
        };
        let item_value = item.get_attr("value").unwrap_or(Value::UNDEFINED);
        let checked = chosen.as_deref() == Some(as_string(&item_value).as_str());
        let item_hint = attr(&item, "hint");
        let conditional = attr(&item, "conditional_html");
        let _ = write!(
            out,
            "\n      <div class=\"govuk-radios__item\">\n        <input class=\"govuk-radios__input\" id=\"{item_id}\" name=\"{name}\" type=\"radio\" value=\"{}\"",
            Text(&item_value)
        );
        if checked {
            out.push_str(" checked");
        }
        if conditional.is_some() {
            let _ = write!(out, " data-aria-controls=\"conditional-{item_id}\"");
        }
        if item_hint.is_some() {
            let _ = write!(out, " aria-describedby=\"{item_id}-item-hint\"");
        }
        let _ = write!(
            out,
            ">\n        <label class=\"govuk-label govuk-radios__label\" for=\"{item_id}\">\n          {}\n        </label>",
            Text(&item.get_attr("text").unwrap_or(Value::UNDEFINED))
        );
        if let Some(item_hint) = &item_hint {
            let _ = write!(
                out,
                "\n        <div id=\"{item_id}-item-hint\" class=\"govuk-hint govuk-radios__hint\">\n          {}\n        </div>",
                Text(item_hint)
            );
        }
        out.push_str("\n      </div>");
        if let Some(conditional) = &conditional {
            let _ = write!(
                out,
                "\n      <div class=\"govuk-radios__conditional{}\" id=\"conditional-{item_id}\">\n        {}\n      </div>",
                if checked {
                    ""
                } else {
                    " govuk-radios__conditional--hidden"
                },
                as_string(conditional)
            );
        }
    }
    out.push_str("\n    </div>\n  </fieldset>\n</div>");
    Ok(Value::from_safe_string(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::{Environment, context};

    fn render(template: &str, ctx: Value) -> Result<String, Error> {
        let mut env = Environment::new();
        env.add_function("textarea", textarea);
        env.add_function("button", button);
        env.add_function("csrf", csrf);
        env.add_function("back_link", back_link);
        env.add_function("radios", radios);
        env.render_str(template, ctx)
    }

    #[test]
    fn a_character_count_has_its_limit_count_and_descriptions() {
        let html = render(
            r#"{{ textarea("risks", "Risks", value, none, maxlength=20, hint="Say why.", optional=true, rows=3, label_classes="govuk-label--m") }}"#,
            context! { value => "line one\r\nline two  " },
        )
        .unwrap();
        assert!(html.starts_with("<div class=\"govuk-form-group govuk-character-count\" data-module=\"govuk-character-count\" data-maxlength=\"20\">"), "{html}");
        assert!(html.contains("<label class=\"govuk-label govuk-label--m\" for=\"risks\">\n    Risks (optional)\n  </label>"), "{html}");
        assert!(
            html.contains("<div id=\"risks-hint\" class=\"govuk-hint\">\n    Say why.\n  </div>"),
            "{html}"
        );
        assert!(html.contains("id=\"risks\" name=\"risks\" rows=\"3\" aria-describedby=\"risks-info risks-status risks-hint\">\nline one\r\nline two  </textarea>"), "{html}");
        // 17 characters once saved: "line one\nline two".
        assert!(html.contains("You can enter up to 20 characters"), "{html}");
        assert!(html.contains("class=\"govuk-hint govuk-character-count__message govuk-character-count__status app-character-count__server-status\">\n    You have 3 characters remaining"), "{html}");
        assert!(!html.contains("error"), "{html}");
    }

    #[test]
    fn an_answer_over_the_limit_and_a_field_error_show_in_red() {
        let html = render(
            r#"{{ textarea("concerns", "Concerns", value, errors, maxlength=1000) }}"#,
            context! { value => "x".repeat(1_205), errors => context! { concerns => "Concerns must be 1,000 characters or fewer" } },
        )
        .unwrap();
        assert!(
            html.contains("govuk-form-group govuk-form-group--error govuk-character-count"),
            "{html}"
        );
        assert!(html.contains("<p id=\"concerns-error\" class=\"govuk-error-message\">\n    <span class=\"govuk-visually-hidden\">Error:</span> Concerns must be 1,000 characters or fewer\n  </p>"), "{html}");
        assert!(
            html.contains(
                "class=\"govuk-textarea govuk-textarea--error govuk-js-character-count\""
            ),
            "{html}"
        );
        assert!(
            html.contains("aria-describedby=\"concerns-info concerns-status concerns-error\""),
            "{html}"
        );
        assert!(
            html.contains("You can enter up to 1,000 characters"),
            "{html}"
        );
        assert!(html.contains("class=\"govuk-error-message govuk-character-count__message govuk-character-count__status app-character-count__server-status\">\n    You have 205 characters too many"), "{html}");
    }

    #[test]
    fn an_error_for_another_field_is_not_shown() {
        let html = render(
            r#"{{ textarea("address", "Address", none, errors, autocomplete="off") }}"#,
            context! { errors => context! { concerns => "Enter your concerns" } },
        )
        .unwrap();
        assert_eq!(
            html,
            "<div class=\"govuk-form-group\">\n  <label class=\"govuk-label\" for=\"address\">\n    Address\n  </label>\n  <textarea class=\"govuk-textarea\" id=\"address\" name=\"address\" rows=\"5\" autocomplete=\"off\">\n</textarea>\n</div>"
        );
    }

    #[test]
    fn every_text_is_escaped_unless_the_template_marked_it_safe() {
        let html = render(
            r#"{{ textarea("notes", label, value, errors, hint=hint, label_classes=classes) }}{{ textarea("b", "B", "", none, hint=safe_hint|safe) }}"#,
            context! {
                label => "<b>Label</b>",
                value => "</textarea><script>alert(1)</script>",
                errors => context! { notes => "<i>bad</i>" },
                hint => "a & b",
                classes => "\" onclick=\"x",
                safe_hint => "<a href=\"/help\">help</a>",
            },
        )
        .unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("</textarea><"), "{html}");
        assert!(
            html.contains("&lt;&#x2f;textarea&gt;&lt;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;Label&lt;&#x2f;b&gt;"), "{html}");
        assert!(html.contains("&lt;i&gt;bad&lt;&#x2f;i&gt;"), "{html}");
        assert!(html.contains("a &amp; b"), "{html}");
        assert!(!html.contains("\" onclick"), "{html}");
        assert!(html.contains("<a href=\"/help\">help</a>"), "{html}");
    }

    #[test]
    fn a_misspelt_option_is_an_error_not_ignored() {
        let err = render(
            r#"{{ textarea("notes", "Notes", "", none, max_length=10) }}"#,
            context! {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("max_length"), "{err:#}");
        assert!(render(r#"{{ textarea("", "Notes", "", none) }}"#, context! {}).is_err());
    }

    #[test]
    fn buttons_render_as_govuk_frontend_writes_them() {
        let html = render(
            r#"{{ button("Save and continue") }}|{{ button("Remove <b>", classes="govuk-button--secondary", name="action", value="remove-0", prevent_double_click=false, type="submit", id="remove") }}|{{ button("Go", value="", type="button") }}"#,
            context! {},
        )
        .unwrap();
        let parts: Vec<&str> = html.split('|').collect();
        assert_eq!(
            parts[0],
            "<button type=\"submit\" class=\"govuk-button\" data-module=\"govuk-button\" data-prevent-double-click=\"true\">\n  Save and continue\n</button>"
        );
        assert_eq!(
            parts[1],
            "<button type=\"submit\" class=\"govuk-button govuk-button--secondary\" data-module=\"govuk-button\" id=\"remove\" name=\"action\" value=\"remove-0\">\n  Remove &lt;b&gt;\n</button>"
        );
        // An empty value is still a value; a misspelt option is an error.
        assert_eq!(
            parts[2],
            "<button type=\"button\" class=\"govuk-button\" data-module=\"govuk-button\" value=\"\" data-prevent-double-click=\"true\">\n  Go\n</button>"
        );
        assert!(render(r#"{{ button("Go", class="x") }}"#, context! {}).is_err());
    }

    #[test]
    fn csrf_fields_and_back_links_escape_what_they_are_given() {
        let html = render(
            r#"{{ csrf(token) }}|{{ back_link("/referrals/ab" ~ "cd") }}|{{ back_link(href, "Back to <the> list") }}"#,
            context! { token => "a\"b", href => "/x?a=1&b=2" },
        )
        .unwrap();
        assert_eq!(
            html,
            "<input type=\"hidden\" name=\"csrf_token\" value=\"a&quot;b\">|<a href=\"&#x2f;referrals&#x2f;abcd\" class=\"govuk-back-link\">Back</a>|<a href=\"&#x2f;x?a=1&amp;b=2\" class=\"govuk-back-link\">Back to &lt;the&gt; list</a>"
        );
    }

    #[test]
    fn radios_render_as_the_govuk_macro_did() {
        // Checked against the template macro this function replaced, byte for byte.
        let html = render(
            r#"{{ radios("gender", "gender", "Gender <b>", items, v, errors, legend_classes="govuk-fieldset__legend--s", small=true, hint="Choose ‘Unborn’ & more") }}"#,
            context! {
                v => 2,
                errors => context! { gender => "Choose <one>" },
                items => vec![
                    context! { value => 1, text => "One", hint => "h1" },
                    context! { divider => "or" },
                    context! { value => "2", text => "Two <i>", conditional_html => Value::from_safe_string("<p>x</p>".into()) },
                    context! { value => 3, text => "Three", conditional_html => Value::from_safe_string("<p>y</p>".into()) },
                ],
            },
        )
        .unwrap();
        assert_eq!(
            html,
            "<div class=\"govuk-form-group govuk-form-group--error\">\n  <fieldset class=\"govuk-fieldset\" aria-describedby=\"gender-hint gender-error\">\n    <legend class=\"govuk-fieldset__legend govuk-fieldset__legend--s\">\n      Gender &lt;b&gt;\n    </legend>\n    <div id=\"gender-hint\" class=\"govuk-hint\">\n    Choose ‘Unborn’ &amp; more\n  </div>\n    <p id=\"gender-error\" class=\"govuk-error-message\">\n    <span class=\"govuk-visually-hidden\">Error:</span> Choose &lt;one&gt;\n  </p>\n    <div class=\"govuk-radios govuk-radios--small\" data-module=\"govuk-radios\">\n      <div class=\"govuk-radios__item\">\n        <input class=\"govuk-radios__input\" id=\"gender\" name=\"gender\" type=\"radio\" value=\"1\" aria-describedby=\"gender-item-hint\">\n        <label class=\"govuk-label govuk-radios__label\" for=\"gender\">\n          One\n        </label>\n        <div id=\"gender-item-hint\" class=\"govuk-hint govuk-radios__hint\">\n          h1\n        </div>\n      </div>\n      <div class=\"govuk-radios__divider\">or</div>\n      <div class=\"govuk-radios__item\">\n        <input class=\"govuk-radios__input\" id=\"gender-3\" name=\"gender\" type=\"radio\" value=\"2\" checked data-aria-controls=\"conditional-gender-3\">\n        <label class=\"govuk-label govuk-radios__label\" for=\"gender-3\">\n          Two &lt;i&gt;\n        </label>\n      </div>\n      <div class=\"govuk-radios__conditional\" id=\"conditional-gender-3\">\n        <p>x</p>\n      </div>\n      <div class=\"govuk-radios__item\">\n        <input class=\"govuk-radios__input\" id=\"gender-4\" name=\"gender\" type=\"radio\" value=\"3\" data-aria-controls=\"conditional-gender-4\">\n        <label class=\"govuk-label govuk-radios__label\" for=\"gender-4\">\n          Three\n        </label>\n      </div>\n      <div class=\"govuk-radios__conditional govuk-radios__conditional--hidden\" id=\"conditional-gender-4\">\n        <p>y</p>\n      </div>\n    </div>\n  </fieldset>\n</div>"
        );
    }

    #[test]
    fn no_answer_checks_no_radio_and_a_page_heading_is_the_legend() {
        let html = render(
            r#"{{ radios("role", "role", "Role", items, v, none, inline=true, legend_is_page_heading=true) }}"#,
            context! { v => (), items => vec![context! { value => "none", text => "A" }, context! { value => "", text => "B" }] },
        )
        .unwrap();
        assert!(!html.contains("checked"), "{html}");
        assert!(html.contains("<legend class=\"govuk-fieldset__legend govuk-fieldset__legend--l\">\n      <h1 class=\"govuk-fieldset__heading\">\n        Role\n      </h1>\n    </legend>"), "{html}");
        assert!(
            html.contains("class=\"govuk-radios govuk-radios--inline\""),
            "{html}"
        );
        assert!(!html.contains("aria-describedby"), "{html}");
        assert!(render(r#"{{ radios("r", "r", "R", 5, none, none) }}"#, context! {}).is_err());
        assert!(
            render(
                r#"{{ radios("r", "r", "R", [], none, none, legend="x") }}"#,
                context! {}
            )
            .is_err()
        );
    }
}
