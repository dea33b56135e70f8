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
                .ok_or_else(|| ParseError::Invalid {
                    format: FORMAT,
                    detail: "event hook delivery has no data.events list".into(),
                })?;
            if events.is_empty() {
                return Err(ParseError::NotAnAlert {
                    what: "an Okta event hook delivery with no events".into(),
                });
            }
            return events.iter().map(parse_event).collect();
        }
        parse_event(payload).map(|a| vec![a])
    }
}

fn okta_user(x: &Value) -> Option<Entity> {
    let alternate = gs(x, "alternateId");
    let mut u = UserEntity {
        okta_id: gs(x, "id").and_then(|s| OktaId::parse(s).ok()),
        email: alternate.and_then(|s| Upn::parse(s).ok()),
        display_name: gs(x, "displayName")
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

fn is_user(x: &Value) -> bool {
    gs(x, "type").is_some_and(|t| t.eq_ignore_ascii_case("User"))
}

fn parse_event(e: &Value) -> Result<Alert, ParseError> {
    if !e.is_object() {
        return Err(ParseError::Invalid {
            format: FORMAT,
            detail: "event is not an object".into(),
        });
    }
    let ty = gs(e, "eventType").ok_or_else(|| ParseError::Invalid {
        format: FORMAT,
        detail: "event has no eventType".into(),
    })?;
    let id = gs(e, "uuid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("sha256:{}", stable_hash(e)));
    let mut a = blank(Source::Okta, id);
    let published = time_of(get(e, "published"));
    a.source_updated = published;
    a.first_activity = published;
    a.last_activity = published;
    a.detector_id = format!("okta:{ty}");
    a.detector_name = ty.to_string();
    a.alert_type = ty.to_string();
    a.title = gs(e, "displayMessage").unwrap_or(ty).to_string();
    a.severity = severity_of(get(e, "severity")).unwrap_or(Severity::Informational);
    if let Some(actor) = get(e, "actor").filter(|x| is_user(x)) {
        a.entities
            .extend(okta_user(actor).map(AlertEntity::unstated));
    }
    if let Some(Value::Array(targets)) = get(e, "target") {
        for t in targets.iter().filter(|t| is_user(t)) {
            a.entities.extend(okta_user(t).map(AlertEntity::unstated));
        }
    }
    if let Some(ip) = ps(e, &["client", "ipAddress"]).and_then(ip_entity) {
        a.entities.push(AlertEntity::unstated(ip));
    }
    Ok(finish(a))
}
