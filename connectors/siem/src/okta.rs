//! Okta System Log events.
//!
//! Accepted shapes: an event hook delivery (`eventType: "com.okta.event_hook"`,
//! `data.events[]`), one System Log event (`eventType`, `uuid`, `published`, `actor`,
//! `target[]`, `client.ipAddress`, `outcome`, `severity`, `displayMessage`; keys matched in any
//! case, as Panther lower-cases some), and — through the dispatcher's array splitting — the
//! `/api/v1/logs` response and other JSON arrays of events.
//!
//! One alert per event: `source_id` = `uuid` (or, without one, `sha256:` + a hash of the event's
//! canonical JSON, stable across deliveries), `detector_id` = `okta:<eventType>`, `alert_type` =
//! the event type. The actor and `User` targets become Okta users (the Okta id when it is one,
//! the `alternateId` as e-mail when it is e-mail shaped), the client IP an IP; all unstated: an
//! event does not say who is the attacker. Missing or redacted fields are simply not set.

use crate::fast::{sc, text, view, Lit, Record, Seq};
use crate::util::*;
use cordon_core::entity::{Directory, UserEntity};
use cordon_core::ids::{OktaId, Upn};
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde_json::Value;

const FORMAT: &str = "okta";
const HOOK: &str = "com.okta.event_hook";

/// The Okta parser.
pub struct Okta;

fn is_event(v: &Value) -> bool {
    let Some(o) = v.as_object() else { return false };
    if o.contains_key("eventVersion") || o.contains_key("eventSource") {
        return false; // CloudTrail
    }
    let typed = get(v, "eventType")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains('.'));
    typed
        && (get(v, "actor").is_some_and(Value::is_object)
            || (get(v, "uuid").is_some()
                && (get(v, "published").is_some()
                    || get(v, "target").is_some()
                    || get(v, "outcome").is_some())))
}

fn is_hook(v: &Value) -> bool {
    get(v, "eventType").and_then(Value::as_str) == Some(HOOK)
}

impl AlertSource for Okta {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn recognises(&self, payload: &Value) -> bool {
        is_hook(payload) || is_event(payload)
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        if is_hook(payload) {
            let events = path(payload, &["data", "events"])
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(NO_EVENTS_LIST))?;
            if events.is_empty() {
                return Err(no_events());
            }
            return events.iter().map(parse_event).collect();
        }
        parse_event(payload).map(|a| vec![a])
    }
}

fn invalid(detail: &str) -> ParseError {
    ParseError::Invalid {
        format: FORMAT,
        detail: detail.to_string(),
    }
}

const NO_EVENTS_LIST: &str = "event hook delivery has no data.events list";
const NOT_AN_OBJECT: &str = "event is not an object";
const NO_EVENT_TYPE: &str = "event has no eventType";

fn no_events() -> ParseError {
    ParseError::NotAnAlert {
        what: "an Okta event hook delivery with no events".into(),
    }
}

/// An actor or target, as read from either representation.
struct UserParts<'a> {
    ty: Option<&'a str>,
    id: Option<&'a str>,
    alternate_id: Option<&'a str>,
    display_name: Option<&'a str>,
}

impl<'a> UserParts<'a> {
    fn of_value(x: &'a Value) -> Self {
        UserParts {
            ty: gs(x, "type"),
            id: gs(x, "id"),
            alternate_id: gs(x, "alternateId"),
            display_name: gs(x, "displayName"),
        }
    }

    fn of_view(x: &'a UserView<'_>) -> Self {
        UserParts {
            ty: text(&x.ty),
            id: text(&x.id),
            alternate_id: text(&x.alternate_id),
            display_name: text(&x.display_name),
        }
    }

    fn is_user(&self) -> bool {
        self.ty.is_some_and(|t| t.eq_ignore_ascii_case("User"))
    }

    fn entity(&self) -> Option<Entity> {
        let alternate = self.alternate_id;
        let mut u = UserEntity {
            okta_id: self.id.and_then(|s| OktaId::parse(s).ok()),
            email: alternate.and_then(|s| Upn::parse(s).ok()),
            display_name: self
                .display_name
                .filter(|d| !d.eq_ignore_ascii_case("unknown"))
                .map(str::to_string),
            directory: Some(Directory::Okta),
            ..UserEntity::default()
        };
        if u.email.is_none() {
            // Redacted (`*****`) and placeholder (`unknown`) values name nobody.
            u.name = alternate
                .filter(|a| !a.eq_ignore_ascii_case("unknown") && !a.chars().all(|c| c == '*'))
                .map(str::to_string);
        }
        (!u.is_empty()).then_some(Entity::User(u))
    }
}

/// What an event states, read from either representation; turned into an alert by
/// [`build_event`].
struct EventParts<'a> {
    ty: &'a str,
    id: String,
    published: Option<Scalar<'a>>,
    display_message: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    client_ip: Option<&'a str>,
}

fn parse_event(e: &Value) -> Result<Alert, ParseError> {
    if !e.is_object() {
        return Err(invalid(NOT_AN_OBJECT));
    }
    let ty = gs(e, "eventType").ok_or_else(|| invalid(NO_EVENT_TYPE))?;
    let id = gs(e, "uuid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("sha256:{}", stable_hash(e)));
    let targets = match get(e, "target") {
        Some(Value::Array(targets)) => targets.as_slice(),
        _ => &[],
    };
    let people = get(e, "actor")
        .into_iter()
        .chain(targets)
        .map(UserParts::of_value);
    Ok(build_event(
        EventParts {
            ty,
            id,
            published: e.prop("published"),
            display_message: gs(e, "displayMessage"),
            severity: e.prop("severity"),
            client_ip: ps(e, &["client", "ipAddress"]),
        },
        people,
    ))
}

/// The alert of an event; `people` are its actor, then its targets: those that are users become
/// entities.
fn build_event<'a>(e: EventParts<'a>, people: impl Iterator<Item = UserParts<'a>>) -> Alert {
    let mut a = blank(Source::Okta, e.id);
    let published = e.published.and_then(Scalar::time);
    a.source_updated = published;
    a.first_activity = published;
    a.last_activity = published;
    a.detector_id = format!("okta:{}", e.ty);
    a.detector_name = e.ty.to_string();
    a.alert_type = e.ty.to_string();
    a.title = e.display_message.unwrap_or(e.ty).to_string();
    a.severity = e
        .severity
        .and_then(Scalar::severity)
        .unwrap_or(Severity::Informational);
    let most = people.size_hint().1.unwrap_or(0);
    a.entities = Vec::with_capacity(most + usize::from(e.client_ip.is_some()));
    a.entities.extend(
        people
            .filter(UserParts::is_user)
            .filter_map(|u| u.entity())
            .map(AlertEntity::unstated),
    );
    if let Some(ip) = e.client_ip.and_then(ip_entity) {
        a.entities.push(AlertEntity::unstated(ip));
    }
    finish(a)
}

// ---------------------------------------------------------------------------------------------
// Fast path (see `crate::fast`)

view! {
    pub(crate) struct UserView<'de> {
        "type" => ty: Lit<'de>,
        "id" => id: Lit<'de>,
        "alternateId" => alternate_id: Lit<'de>,
        "displayName" => display_name: Lit<'de>,
    }
}

view! {
    pub(crate) struct ClientView<'de> {
        "ipAddress" => ip_address: Lit<'de>,
    }
}

view! {
    pub(crate) struct HookDataView<'de> {
        "events" => events: Seq<Record<'de>>,
    }
}

/// The alerts of an Okta record on the fast path (`Okta::parse`), or `None` where it declines:
/// not an Okta shape, or an event without `uuid` (its id is a hash of the whole event).
pub(crate) fn parse_fast(r: &Record<'_>) -> Option<Result<Vec<Alert>, ParseError>> {
    let event_type = Record::str_field(&r.event_type);
    if event_type == Some(HOOK) {
        let Some(events) = r
            .data
            .as_ref()
            .and_then(|d| d.events.as_ref())
            .and_then(Seq::items)
        else {
            return Some(Err(invalid(NO_EVENTS_LIST)));
        };
        if events.is_empty() {
            return Some(Err(no_events()));
        }
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            match event_fast(e)? {
                Ok(a) => out.push(a),
                Err(e) => return Some(Err(e)),
            }
        }
        return Some(Ok(out));
    }
    // `is_event`.
    let is_event = r.event_version.is_none()
        && r.event_source.is_none()
        && event_type.is_some_and(|t| t.contains('.'))
        && (r.actor.as_ref().is_some_and(|a| a.meta.is_object)
            || (r.uuid.is_some()
                && (r.published.is_some() || r.target.is_some() || r.outcome.is_some())));
    if !is_event {
        return None;
    }
    event_fast(r).map(|a| a.map(|a| vec![a]))
}

fn event_fast(e: &Record<'_>) -> Option<Result<Alert, ParseError>> {
    if !e.meta.is_object {
        return Some(Err(invalid(NOT_AN_OBJECT)));
    }
    let Some(ty) = text(&e.event_type) else {
        return Some(Err(invalid(NO_EVENT_TYPE)));
    };
    let id = text(&e.uuid)?.to_string();
    let targets = e.target.as_ref().and_then(Seq::items).unwrap_or(&[]);
    let people = e.actor.iter().chain(targets).map(UserParts::of_view);
    Some(Ok(build_event(
        EventParts {
            ty,
            id,
            published: sc(&e.published),
            display_message: text(&e.display_message),
            severity: sc(&e.severity),
            client_ip: e.client.as_ref().and_then(|c| text(&c.ip_address)),
        },
        people,
    )))
}
