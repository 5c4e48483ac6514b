//! The system match and the links from a referral's children to person records
//! and the person records themselves.
//!
//! Access: every function about a referral takes a [`StaffReferral`], which only
//! [`super::open_for_staff`] gives out (`Permission::WorkOnReferral`: MASH staff, submitted
//! referrals). Changing links or creating a person from a referral also needs
//! `Permission::EditPerson` (business support and managers: they triage and match; social
//! workers see the match and the links but do not change them). Person pages need
//! `ViewPerson`, corrections `EditPerson`.
//!
//! The referral itself is never changed here: it keeps exactly what the referrer wrote
//! (FAQ 4). Staff correct the *person record*.
//!
//! Audit (identifiers only): `link-person` / `unlink-person` on the referral, commit with
//! the change; `create-person`, `update-person` and `view-person` on the person. Viewing
//! the system match is part of viewing the referral (`view-referral`, recorded by the page).

use std::collections::HashMap;

use ehm_domain::access::{Actor, Permission, allowed};
use ehm_domain::mash::{PersonId, ReferralStatus, UnlinkReason, search_text};
use ehm_domain::referral::{
    ADDRESS_MAX, BoundedText, ChildDraft, Gender, NAME_MAX, Postcode, TextError,
    dob::parse_date_input,
};
use ehm_matching::{Date, Person};
use ehm_storage::{LinkOutcome, LinkRow, PersonData, PersonRow, PersonUpdate, Store};
use time::OffsetDateTime;

use super::StaffReferral;
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result};

/// Candidates shown per child.
pub const TOP_K: usize = 5;
/// Candidates scoring below this (0.1%) are not shown.
pub const THRESHOLD: f64 = 0.001;
/// Longest "other names" on a person record (as the importer).
pub const OTHER_NAMES_MAX: usize = 500;
/// Attempts at a fresh person id before giving up (a clash is about one in 78 billion).
const ID_ATTEMPTS: usize = 5;

// ------------------------------------------------------------------ the system match

/// One row of "why this matched", in plain words.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reason {
    /// "Date of birth".
    pub label: String,
    /// "estimated, about 2 years apart (2014-02-14 / 2016-02-14) — counts for this record (+1.9)".
    pub text: String,
    /// Bits of evidence for (+) or against (−).
    pub weight: f64,
}

/// A ranked candidate from the person index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidateView {
    pub person: PersonRow,
    /// Match probability, 0 to 1.
    pub score: f64,
    pub reasons: Vec<Reason>,
    /// The child is currently linked to this person.
    pub linked: bool,
}

/// A link, with the names of who made and undid it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkView {
    pub link: LinkRow,
    pub linked_by: String,
    pub unlinked_by: Option<String>,
    /// The person as now recorded (`None` if the record has gone).
    pub person: Option<PersonRow>,
}

/// Another referral linked to a person.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RelatedReferral {
    pub public_id: String,
    pub reference: Option<String>,
    pub status: String,
    pub status_label: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    /// The referrer's organisation, as they wrote it.
    pub organisation: String,
    /// Not closed.
    pub open: bool,
    /// From another organisation than the referral being looked at.
    pub other_agency: bool,
    /// Which child of that referral (0 for the first).
    pub child_index: i64,
}

/// Everything the page shows about one child of a referral.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChildMatch {
    /// The child's position in the referral (0 for the first).
    pub index: usize,
    /// The name as the referrer wrote it.
    pub name: String,
    pub current: Option<LinkView>,
    /// Links made and undone, oldest first.
    pub undone: Vec<LinkView>,
    /// Best first; `None` while the person index is still loading.
    pub candidates: Option<Vec<CandidateView>>,
    /// The other referrals linked to the person this child is linked to, newest first.
    pub related: Vec<RelatedReferral>,
}

/// The system match of a referral, child by child.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SystemMatch {
    pub children: Vec<ChildMatch>,
    /// The actor may link, undo and create (`EditPerson`).
    pub may_change: bool,
    /// People in the matching index.
    pub indexed: usize,
}

/// The matching query for a child: what the referrer wrote (names, other names, date of
/// birth and whether it is estimated, none for an unborn child, gender, postcode, address).
/// Its id (`referral:ID:CHILD`) is never a person's.
pub fn query_of_child(referral_id: i64, child: usize, c: &ChildDraft) -> Person {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let dob = if c.unborn {
        None
    } else {
        parse_date_input(&c.dob_day, &c.dob_month, &c.dob_year)
            .ok()
            .and_then(|d| Date::new(d.year(), d.month() as u8, d.day()))
    };
    Person {
        id: format!("referral:{referral_id}:{child}"),
        first_name: text(&c.first_name),
        last_name: text(&c.last_name),
        other_names: split_names(&c.other_names),
        dob,
        dob_text: None,
        dob_estimated: dob.is_some() && c.dob_estimated,
        gender: ehm_matching::Gender::parse(&c.gender).ok().flatten(),
        address: text(&c.address),
        postcode: text(&c.postcode),
    }
}

/// "Mira, Mimi; Amy" → ["Mira", "Mimi", "Amy"].
fn split_names(s: &str) -> Vec<String> {
    s.split([',', ';', '|', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

fn child_name(c: &ChildDraft) -> String {
    let n = format!("{} {}", c.first_name.trim(), c.last_name.trim())
        .trim()
        .to_owned();
    if n.is_empty() {
        if c.unborn {
            "Unborn child".into()
        } else {
            "Child without a name".into()
        }
    } else {
        n
    }
}

/// The plain-words rows of a candidate's explanation ("Date of birth: …" without the label).
fn reasons(c: &ehm_matching::Candidate) -> Vec<Reason> {
    c.explain_plain()
        .into_iter()
        .map(|(label, sentence, weight)| {
            let text = sentence
                .strip_prefix(&format!("{label}: "))
                .map(str::to_owned)
                .unwrap_or(sentence);
            Reason {
                label,
                text,
                weight,
            }
        })
        .collect()
}

/// Display names of staff, looked up once per page.
struct Names<'a> {
    store: &'a Store,
    seen: HashMap<i64, String>,
}

impl Names<'_> {
    async fn of(&mut self, id: i64) -> Result<String> {
        if let Some(n) = self.seen.get(&id) {
            return Ok(n.clone());
        }
        let n = self
            .store
            .user_by_id(id)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_else(|| format!("user {id}"));
        self.seen.insert(id, n.clone());
        Ok(n)
    }
}

async fn link_view(app: &App, names: &mut Names<'_>, link: LinkRow) -> Result<LinkView> {
    Ok(LinkView {
        linked_by: names.of(link.linked_by).await?,
        unlinked_by: match link.unlinked_by {
            Some(id) => Some(names.of(id).await?),
            None => None,
        },
        person: app.store.person(&link.person_id).await?,
        link,
    })
}

fn organisation_key(name: &str) -> String {
    search_text(name)
}

/// The referrals linked to `person_id` other than `except`, newest first; "other agency"
/// compared with `organisation`.
async fn related(
    app: &App,
    person_id: &str,
    except: Option<i64>,
    organisation: Option<&str>,
) -> Result<Vec<RelatedReferral>> {
    let ours = organisation.map(organisation_key);
    let mut out = Vec::new();
    for pr in app.store.referrals_of_person(person_id).await? {
        if Some(pr.referral_id) == except {
            continue;
        }
        let organisation = match app.store.referral_by_public_id(&pr.public_id).await? {
            Some(row) => row.draft.organisation.name,
            None => continue,
        };
        let status = ReferralStatus::parse(&pr.status).ok();
        let other_agency = ours
            .as_deref()
            .is_some_and(|o| organisation_key(&organisation) != o);
        out.push(RelatedReferral {
            public_id: pr.public_id,
            reference: pr.reference,
            status_label: status.map_or_else(|| pr.status.clone(), |s| s.label().to_owned()),
            open: status != Some(ReferralStatus::Closed),
            status: pr.status,
            submitted_at: pr.submitted_at,
            organisation: organisation.trim().to_owned(),
            other_agency,
            child_index: pr.child_index,
        });
    }
    Ok(out)
}

/// The system match of every child of `r`: the engine's best candidates with their score
/// and why, the current link and the undone ones, and the other referrals about the
/// linked person (open ones from another agency marked).
pub async fn system_match(app: &App, r: &StaffReferral) -> Result<SystemMatch> {
    let l = &r.loaded;
    let links = app.store.links_of_referral(l.row.id).await?;
    let mut names = Names {
        store: &app.store,
        seen: HashMap::new(),
    };
    let mut children = Vec::with_capacity(l.draft.children.len());
    for (i, c) in l.draft.children.iter().enumerate() {
        let mut current = None;
        let mut undone = Vec::new();
        for link in links.iter().filter(|k| k.child_index == i as i64) {
            let v = link_view(app, &mut names, link.clone()).await?;
            if link.is_current() {
                current = Some(v);
            } else {
                undone.push(v);
            }
        }
        let linked_to = current.as_ref().map(|v| v.link.person_id.clone());
        let query = query_of_child(l.row.id, i, c);
        let candidates = match app.persons.search(&query, TOP_K, THRESHOLD) {
            None => None,
            Some(found) => {
                let mut out = Vec::with_capacity(found.len());
                for cand in found {
                    // The index may be a moment behind the database: show the record as
                    // it is now.
                    let Some(person) = app.store.person(&cand.person_id).await? else {
                        continue;
                    };
                    out.push(CandidateView {
                        linked: linked_to.as_deref() == Some(cand.person_id.as_str()),
                        score: cand.score,
                        reasons: reasons(&cand),
                        person,
                    });
                }
                Some(out)
            }
        };
        let related = match &linked_to {
            Some(pid) => {
                related(
                    app,
                    pid,
                    Some(l.row.id),
                    Some(l.draft.organisation.name.as_str()),
                )
                .await?
            }
            None => Vec::new(),
        };
        children.push(ChildMatch {
            index: i,
            name: child_name(c),
            current,
            undone,
            candidates,
            related,
        });
    }
    Ok(SystemMatch {
        children,
        may_change: allowed(l.actor, Permission::EditPerson),
        indexed: app.persons.status().persons,
    })
}

// ------------------------------------------------------------------ links

/// The outcome of a change to a referral's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    Linked {
        person_id: String,
    },
    Unlinked {
        person_id: String,
    },
    Created {
        person_id: String,
    },
    /// The actor may see the referral but not change its links (audited).
    NotAllowed,
    /// No such child, or no such link on this referral.
    NotFound,
    /// The link had already been undone (by someone else, or a second click).
    AlreadyUnlinked,
    /// What was typed, refused: the field is the input's id.
    Invalid(FieldErrors),
}

/// The id of the input where a child's link errors are shown.
pub fn person_id_field(child: usize) -> String {
    format!("child-{child}-person-id")
}

/// Whether the actor may change the links of `r` (`EditPerson`); a refusal is audited.
pub async fn may_change_links(app: &App, r: &StaffReferral, ip: &str) -> Result<bool> {
    let actor = r.loaded.actor;
    if allowed(actor, Permission::EditPerson) {
        return Ok(true);
    }
    let id = r.loaded.row.id.to_string();
    audit::record(
        app,
        Event {
            actor: Some(actor.user_id),
            action: "access-check",
            object_type: "referral",
            object_id: &id,
            outcome: "refused",
            ip,
        },
    )
    .await?;
    Ok(false)
}

fn already_linked(child: usize) -> LinkChange {
    LinkChange::Invalid(FieldErrors::one(
        &person_id_field(child),
        "This child is already linked to a person record. Undo that link first",
    ))
}

/// Links child `child` of `r` to the person `person_id` (who and when are recorded).
pub async fn link(
    app: &App,
    r: &StaffReferral,
    child: usize,
    person_id: &str,
    ip: &str,
) -> Result<LinkChange> {
    if !may_change_links(app, r, ip).await? {
        return Ok(LinkChange::NotAllowed);
    }
    let l = &r.loaded;
    if child >= l.draft.children.len() {
        return Ok(LinkChange::NotFound);
    }
    let field = person_id_field(child);
    let id = match PersonId::parse(person_id) {
        Ok(id) => id,
        Err(ehm_domain::mash::PersonIdError::Empty) => {
            return Ok(LinkChange::Invalid(FieldErrors::one(
                &field,
                "Enter the id of the person record to link this child to",
            )));
        }
        Err(_) => {
            return Ok(LinkChange::Invalid(FieldErrors::one(
                &field,
                "Enter a person record's id as it is shown, for example P-7K2M9QXD",
            )));
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut tx = app.store.begin().await?;
    let out = app
        .store
        .link_person(
            &mut tx,
            l.row.id,
            child as i64,
            id.as_str(),
            l.actor.user_id,
            now,
        )
        .await?;
    match out {
        LinkOutcome::Linked { .. } => {}
        LinkOutcome::ChildAlreadyLinked => return Ok(already_linked(child)),
        LinkOutcome::NoSuchPerson => {
            return Ok(LinkChange::Invalid(FieldErrors::one(
                &field,
                format!("There is no person record with the id {id}"),
            )));
        }
    }
    let rid = l.row.id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        Event {
            actor: Some(l.actor.user_id),
            action: "link-person",
            object_type: "referral",
            object_id: &rid,
            outcome: "success",
            ip,
        },
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(LinkChange::Linked {
        person_id: id.into_string(),
    })
}

/// The current or undone link `link_id` of `r`, for the "undo" page.
pub async fn link_of(app: &App, r: &StaffReferral, link_id: i64) -> Result<Option<LinkView>> {
    let Some(link) = app
        .store
        .links_of_referral(r.loaded.row.id)
        .await?
        .into_iter()
        .find(|k| k.id == link_id)
    else {
        return Ok(None);
    };
    let mut names = Names {
        store: &app.store,
        seen: HashMap::new(),
    };
    Ok(Some(link_view(app, &mut names, link).await?))
}

/// The field of the unlink reason.
pub const REASON_FIELD: &str = "reason";

/// Undoes link `link_id` of `r`, with the reason (required).
pub async fn unlink(
    app: &App,
    r: &StaffReferral,
    link_id: i64,
    reason: &str,
    ip: &str,
) -> Result<LinkChange> {
    if !may_change_links(app, r, ip).await? {
        return Ok(LinkChange::NotAllowed);
    }
    let l = &r.loaded;
    let Some(link) = app
        .store
        .links_of_referral(l.row.id)
        .await?
        .into_iter()
        .find(|k| k.id == link_id)
    else {
        return Ok(LinkChange::NotFound);
    };
    if !link.is_current() {
        return Ok(LinkChange::AlreadyUnlinked);
    }
    let reason = match UnlinkReason::parse(reason) {
        Ok(r) => r,
        Err(e) => return Ok(LinkChange::Invalid(FieldErrors::one(REASON_FIELD, e))),
    };
    let now = OffsetDateTime::now_utc();
    let mut tx = app.store.begin().await?;
    if !app
        .store
        .unlink_person(&mut tx, link.id, l.actor.user_id, &reason, now)
        .await?
    {
        return Ok(LinkChange::AlreadyUnlinked);
    }
    let rid = l.row.id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        Event {
            actor: Some(l.actor.user_id),
            action: "unlink-person",
            object_type: "referral",
            object_id: &rid,
            outcome: "success",
            ip,
        },
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(LinkChange::Unlinked {
        person_id: link.person_id,
    })
}

/// The person record a child would get: what the referrer wrote about the child.
pub fn person_from_child(id: &PersonId, c: &ChildDraft) -> PersonData {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let dob = if c.unborn {
        None
    } else {
        parse_date_input(&c.dob_day, &c.dob_month, &c.dob_year)
            .ok()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day()))
    };
    PersonData {
        id: id.as_str().to_owned(),
        first_name: text(&c.first_name),
        last_name: text(&c.last_name),
        other_names: split_names(&c.other_names),
        dob_estimated: dob.is_some() && c.dob_estimated,
        dob,
        gender: text(&c.gender),
        address: text(&c.address),
        postcode: Postcode::parse(&c.postcode)
            .ok()
            .map(|p| p.as_str().to_owned()),
    }
}

/// Creates a person record from child `child` of `r` and links the child to it, in one
/// transaction (the child must not be linked already).
pub async fn create_person(
    app: &App,
    r: &StaffReferral,
    child: usize,
    ip: &str,
) -> Result<LinkChange> {
    if !may_change_links(app, r, ip).await? {
        return Ok(LinkChange::NotAllowed);
    }
    let l = &r.loaded;
    let Some(c) = l.draft.children.get(child) else {
        return Ok(LinkChange::NotFound);
    };
    for _ in 0..ID_ATTEMPTS {
        let id = PersonId::generate(rand::random());
        let data = person_from_child(&id, c);
        let now = OffsetDateTime::now_utc();
        let mut tx = app.store.begin().await?;
        let Some(row) = app.store.create_person(&mut tx, &data, now).await? else {
            continue; // the id is taken: draw another (the transaction rolls back)
        };
        match app
            .store
            .link_person(
                &mut tx,
                l.row.id,
                child as i64,
                id.as_str(),
                l.actor.user_id,
                now,
            )
            .await?
        {
            LinkOutcome::Linked { .. } => {}
            // Nothing is kept: the transaction rolls back with the new person.
            LinkOutcome::ChildAlreadyLinked => return Ok(already_linked(child)),
            LinkOutcome::NoSuchPerson => {
                return Err(
                    anyhow::anyhow!("a person created in this transaction is missing").into(),
                );
            }
        }
        let rid = l.row.id.to_string();
        for (action, object_type, object_id) in [
            ("create-person", "person", id.as_str()),
            ("link-person", "referral", rid.as_str()),
        ] {
            audit::record_tx(
                app,
                &mut tx,
                Event {
                    actor: Some(l.actor.user_id),
                    action,
                    object_type,
                    object_id,
                    outcome: "success",
                    ip,
                },
                now,
            )
            .await?;
        }
        ehm_storage::commit(tx).await?;
        app.persons.upsert_row(&row);
        return Ok(LinkChange::Created {
            person_id: id.into_string(),
        });
    }
    Err(anyhow::anyhow!("no free person id after {ID_ATTEMPTS} attempts").into())
}

// ------------------------------------------------------------------ person records

/// A person record with the referrals linked to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PersonPage {
    pub person: PersonRow,
    pub referrals: Vec<RelatedReferral>,
    /// The actor may correct the record.
    pub may_edit: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PersonOutcome<T> {
    Found(T),
    /// Not for this actor (audited).
    NotAllowed,
    NotFound,
}

async fn refused_person(app: &App, actor: Actor, id: &str, ip: &str) -> Result<()> {
    audit::record(
        app,
        Event {
            actor: Some(actor.user_id),
            action: "access-check",
            object_type: "person",
            object_id: id,
            outcome: "refused",
            ip,
        },
    )
    .await
}

async fn viewed_person(app: &App, actor: Actor, id: &str, ip: &str) -> Result<()> {
    audit::record(
        app,
        Event {
            actor: Some(actor.user_id),
            action: "view-person",
            object_type: "person",
            object_id: id,
            outcome: "success",
            ip,
        },
    )
    .await
}

/// A person record and every referral linked to it (newest first). `ViewPerson`.
pub async fn person(
    app: &App,
    actor: Actor,
    id: &str,
    ip: &str,
) -> Result<PersonOutcome<PersonPage>> {
    if !allowed(actor, Permission::ViewPerson) {
        refused_person(app, actor, id, ip).await?;
        return Ok(PersonOutcome::NotAllowed);
    }
    let Some(person) = app.store.person(id).await? else {
        return Ok(PersonOutcome::NotFound);
    };
    let referrals = related(app, id, None, None).await?;
    viewed_person(app, actor, id, ip).await?;
    Ok(PersonOutcome::Found(PersonPage {
        person,
        referrals,
        may_edit: allowed(actor, Permission::EditPerson),
    }))
}

/// A person record to correct. `EditPerson`; viewing the form is audited as a view.
pub async fn person_for_edit(
    app: &App,
    actor: Actor,
    id: &str,
    ip: &str,
) -> Result<PersonOutcome<PersonRow>> {
    if !allowed(actor, Permission::EditPerson) {
        refused_person(app, actor, id, ip).await?;
        return Ok(PersonOutcome::NotAllowed);
    }
    let Some(person) = app.store.person(id).await? else {
        return Ok(PersonOutcome::NotFound);
    };
    viewed_person(app, actor, id, ip).await?;
    Ok(PersonOutcome::Found(person))
}

/// The correction form as typed (field names as the inputs').
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PersonForm {
    pub first_name: String,
    pub last_name: String,
    pub other_names: String,
    pub dob_day: String,
    pub dob_month: String,
    pub dob_year: String,
    /// "yes" when ticked.
    pub dob_estimated: String,
    pub gender: String,
    pub address: String,
    pub postcode: String,
}

impl PersonForm {
    /// The form filled in with the record as stored.
    pub fn of(p: &PersonData) -> Self {
        let (y, m, d) = p
            .dob
            .as_deref()
            .and_then(Date::parse_iso)
            .map(|d| {
                (
                    d.year().to_string(),
                    d.month().to_string(),
                    d.day().to_string(),
                )
            })
            .unwrap_or_default();
        PersonForm {
            first_name: p.first_name.clone().unwrap_or_default(),
            last_name: p.last_name.clone().unwrap_or_default(),
            other_names: p.other_names.join("; "),
            dob_day: d,
            dob_month: m,
            dob_year: y,
            dob_estimated: if p.dob_estimated {
                "yes".into()
            } else {
                String::new()
            },
            gender: p.gender.clone().unwrap_or_default(),
            address: p.address.clone().unwrap_or_default(),
            postcode: p.postcode.clone().unwrap_or_default(),
        }
    }
}

/// Parses the correction form: names bounded (a first name or a last name required),
/// the date of birth as three fields (optional; a real date, not in the future), a gender
/// from the referral form's list, a UK postcode, an address of at most 500 characters.
pub fn parse_person_form(
    id: &str,
    f: &PersonForm,
    today: time::Date,
) -> std::result::Result<PersonData, FieldErrors> {
    let mut e = FieldErrors::default();
    let mut text =
        |field: &str, subject: &str, r: std::result::Result<Option<String>, TextError>| {
            r.unwrap_or_else(|err| {
                e.add(field, err.message(subject, ""));
                None
            })
        };
    let first_name = text(
        "first-name",
        "First name",
        BoundedText::<NAME_MAX>::parse_optional(&f.first_name).map(|t| t.map(|t| t.into_string())),
    );
    let last_name = text(
        "last-name",
        "Last name",
        BoundedText::<NAME_MAX>::parse_optional(&f.last_name).map(|t| t.map(|t| t.into_string())),
    );
    let other = text(
        "other-names",
        "Other names",
        BoundedText::<OTHER_NAMES_MAX>::parse_optional(&f.other_names)
            .map(|t| t.map(|t| t.into_string())),
    );
    let address = text(
        "address",
        "Address",
        BoundedText::<ADDRESS_MAX>::parse_optional(&f.address).map(|t| t.map(|t| t.into_string())),
    );
    if f.first_name.trim().is_empty() && f.last_name.trim().is_empty() {
        e.add("first-name", "Enter a first name or a last name");
    }
    let estimated = f.dob_estimated == "yes";
    let all_empty = [&f.dob_day, &f.dob_month, &f.dob_year]
        .iter()
        .all(|s| s.trim().is_empty());
    let dob = if all_empty {
        if estimated {
            e.add(
                "dob-day",
                "Enter the date of birth, or untick ‘the date of birth is estimated’",
            );
        }
        None
    } else {
        match parse_date_input(&f.dob_day, &f.dob_month, &f.dob_year) {
            Ok(d) if d > today => {
                e.add("dob-day", "Date of birth must be today or in the past");
                None
            }
            Ok(d) => Some(format!(
                "{:04}-{:02}-{:02}",
                d.year(),
                d.month() as u8,
                d.day()
            )),
            Err(err) => {
                e.add(
                    &format!("dob-{}", err.parts.first()),
                    err.message("Date of birth", "Enter the date of birth"),
                );
                None
            }
        }
    };
    let gender = match f.gender.trim() {
        "" => None,
        g => match Gender::parse(g) {
            Ok(g) => Some(g.code().to_owned()),
            Err(_) => {
                e.add("gender", "Select a gender from the list");
                None
            }
        },
    };
    let postcode = match f.postcode.trim() {
        "" => None,
        p => match Postcode::parse(p) {
            Ok(p) => Some(p.as_str().to_owned()),
            Err(_) => {
                e.add("postcode", "Enter a real postcode, like AA1 1AA");
                None
            }
        },
    };
    if !e.is_empty() {
        // In the order of the page.
        const ORDER: [&str; 10] = [
            "first-name",
            "last-name",
            "other-names",
            "dob-day",
            "dob-month",
            "dob-year",
            "gender",
            "address",
            "postcode",
            "",
        ];
        e.0.sort_by_key(|(f, _)| ORDER.iter().position(|o| o == f));
        return Err(e);
    }
    Ok(PersonData {
        id: id.to_owned(),
        first_name,
        last_name,
        other_names: other.map(|o| split_names(&o)).unwrap_or_default(),
        dob,
        dob_estimated: estimated,
        gender,
        address,
        postcode,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    Updated(Box<PersonRow>),
    Invalid(FieldErrors),
    /// Someone changed the record since the form was opened: nothing was written; this
    /// is the record as it now stands.
    Conflict(Box<PersonRow>),
}

/// Corrects a person record, if it is still at change number `version` (the one the form
/// showed). `EditPerson`. The referral keeps what the referrer wrote.
pub async fn update_person(
    app: &App,
    actor: Actor,
    id: &str,
    version: i64,
    form: &PersonForm,
    ip: &str,
) -> Result<PersonOutcome<UpdateOutcome>> {
    if !allowed(actor, Permission::EditPerson) {
        refused_person(app, actor, id, ip).await?;
        return Ok(PersonOutcome::NotAllowed);
    }
    let Some(current) = app.store.person(id).await? else {
        return Ok(PersonOutcome::NotFound);
    };
    let now = OffsetDateTime::now_utc();
    let data = match parse_person_form(&current.data.id, form, now.date()) {
        Ok(d) => d,
        Err(e) => return Ok(PersonOutcome::Found(UpdateOutcome::Invalid(e))),
    };
    let mut tx = app.store.begin().await?;
    let row = match app
        .store
        .update_person(&mut tx, &data, version, now)
        .await?
    {
        PersonUpdate::Updated(row) => row,
        PersonUpdate::NotFound => return Ok(PersonOutcome::NotFound),
        PersonUpdate::Conflict => {
            drop(tx);
            return Ok(match app.store.person(id).await? {
                Some(now) => PersonOutcome::Found(UpdateOutcome::Conflict(Box::new(now))),
                None => PersonOutcome::NotFound,
            });
        }
    };
    audit::record_tx(
        app,
        &mut tx,
        Event {
            actor: Some(actor.user_id),
            action: "update-person",
            object_type: "person",
            object_id: &current.data.id,
            outcome: "success",
            ip,
        },
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    app.persons.upsert_row(&row);
    Ok(PersonOutcome::Found(UpdateOutcome::Updated(row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child() -> ChildDraft {
        ChildDraft {
            first_name: " Mimi ".into(),
            last_name: "Okafor".into(),
            other_names: "Amira, Mira".into(),
            dob_day: "14".into(),
            dob_month: "feb".into(),
            dob_year: "2016".into(),
            dob_estimated: true,
            gender: "female".into(),
            address: "12 Fictional Road".into(),
            postcode: "ab12xy".into(),
            ..ChildDraft::default()
        }
    }

    fn today() -> time::Date {
        time::macros::date!(2026 - 11 - 26)
    }

    #[test]
    fn a_query_is_what_the_referrer_wrote() {
        let q = query_of_child(7, 1, &child());
        assert_eq!(q.id, "referral:7:1");
        assert_eq!(q.first_name.as_deref(), Some("Mimi"));
        assert_eq!(q.other_names, ["Amira", "Mira"]);
        assert_eq!(q.dob, Date::new(2016, 2, 14));
        assert!(q.dob_estimated);
        assert_eq!(q.gender, Some(ehm_matching::Gender::Female));
        assert_eq!(q.postcode.as_deref(), Some("ab12xy"));
    }

    #[test]
    fn an_unborn_child_is_searched_without_a_date_of_birth() {
        let mut c = child();
        c.unborn = true;
        c.gender = "unborn".into();
        let q = query_of_child(7, 0, &c);
        assert_eq!((q.dob, q.dob_estimated, q.gender), (None, false, None));
    }

    #[test]
    fn a_person_from_a_child_keeps_the_referrers_details_with_a_tidy_postcode() {
        let id = PersonId::generate(*b"abcdefgh");
        let p = person_from_child(&id, &child());
        assert_eq!(p.id, id.as_str());
        assert_eq!(p.dob.as_deref(), Some("2016-02-14"));
        assert!(p.dob_estimated);
        assert_eq!(p.postcode.as_deref(), Some("AB1 2XY"));
        assert_eq!(p.gender.as_deref(), Some("female"));
    }

    #[test]
    fn the_correction_form_round_trips_a_record() {
        let id = PersonId::generate(*b"abcdefgh");
        let p = person_from_child(&id, &child());
        let f = PersonForm::of(&p);
        assert_eq!((f.dob_day.as_str(), f.dob_month.as_str()), ("14", "2"));
        assert_eq!(parse_person_form(&p.id, &f, today()), Ok(p));
    }

    #[test]
    fn the_correction_form_explains_each_problem() {
        let f = PersonForm {
            first_name: "x".repeat(101),
            dob_day: "31".into(),
            dob_month: "2".into(),
            dob_year: "2016".into(),
            gender: "robot".into(),
            postcode: "nowhere".into(),
            ..PersonForm::default()
        };
        let e = parse_person_form("P-1", &f, today()).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["first-name", "dob-day", "gender", "postcode"]);
        assert_eq!(e.0[0].1, "First name must be 100 characters or less");
        assert_eq!(e.0[1].1, "Date of birth must be a real date");
    }

    #[test]
    fn a_record_needs_a_name_and_a_date_of_birth_not_in_the_future() {
        let f = PersonForm {
            dob_day: "1".into(),
            dob_month: "1".into(),
            dob_year: "2027".into(),
            ..PersonForm::default()
        };
        let e = parse_person_form("P-1", &f, today()).unwrap_err();
        assert_eq!(
            e.0,
            [
                (
                    "first-name".to_string(),
                    "Enter a first name or a last name".to_string()
                ),
                (
                    "dob-day".to_string(),
                    "Date of birth must be today or in the past".to_string()
                ),
            ]
        );
        let f = PersonForm {
            last_name: "Okafor".into(),
            dob_estimated: "yes".into(),
            ..PersonForm::default()
        };
        assert_eq!(
            parse_person_form("P-1", &f, today()).unwrap_err().0[0].0,
            "dob-day"
        );
    }
}
