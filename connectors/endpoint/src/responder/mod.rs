//! The responders: [`MdeResponder`], [`CrowdStrikeResponder`] and the [`DeviceRouter`] that sends
//! each device to the right one.

pub mod crowdstrike;
pub mod mde;
pub mod router;

use chrono::{DateTime, Utc};
use cordon_core::action::{ActionKind, Target, TargetKind};
use cordon_core::respond::Failure;
use serde_json::Value;
use std::time::Duration;

/// A device identifier as planned by the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceRef {
    /// MDE machine id (40 hex).
    Mde(String),
    /// CrowdStrike agent id (32 hex).
    Cs(String),
    /// A DNS / host name, looked up.
    Host(String),
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

pub(crate) fn parse_device(target: &Target) -> Result<DeviceRef, Failure> {
    if target.kind != TargetKind::Device {
        return Err(Failure::Permanent {
            detail: format!("{} is a {:?} target, not a device", target.id, target.kind),
        });
    }
    let id = target.id.trim();
    let malformed = || Failure::Permanent {
        detail: format!(
            "malformed device id {id:?}: expected mde:<40 hex>, cs:<32 hex> or host:<name>"
        ),
    };
    let parsed = if let Some(v) = id.strip_prefix("mde:") {
        is_hex(v, 40).then(|| DeviceRef::Mde(v.to_ascii_lowercase()))
    } else if let Some(v) = id.strip_prefix("cs:") {
        is_hex(v, 32).then(|| DeviceRef::Cs(v.to_ascii_lowercase()))
    } else if let Some(v) = id.strip_prefix("host:") {
        let v = v.trim();
        (!v.is_empty() && !v.contains(char::is_whitespace)).then(|| DeviceRef::Host(v.to_string()))
    } else if is_hex(id, 40) {
        Some(DeviceRef::Mde(id.to_ascii_lowercase()))
    } else if is_hex(id, 32) {
        Some(DeviceRef::Cs(id.to_ascii_lowercase()))
    } else {
        None
    };
    parsed.ok_or_else(malformed)
}

/// Which way a device action goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Isolate,
    Release,
}

impl Direction {
    pub fn of(kind: ActionKind) -> Option<Self> {
        match kind {
            ActionKind::IsolateDevice => Some(Direction::Isolate),
            ActionKind::ReleaseDevice => Some(Direction::Release),
            _ => None,
        }
    }
    pub fn inverse(self) -> Self {
        match self {
            Direction::Isolate => Direction::Release,
            Direction::Release => Direction::Isolate,
        }
    }
}

pub(crate) fn unsupported(responder: &str, kind: ActionKind) -> Failure {
    Failure::Permanent {
        detail: format!("the {responder} responder does not handle {kind}"),
    }
}

/// Whether `created + deadline` is past.
pub(crate) fn past_deadline(
    created: Option<DateTime<Utc>>,
    deadline: Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(created) = created else {
        return false;
    };
    let deadline = chrono::Duration::from_std(deadline).unwrap_or(chrono::Duration::MAX);
    created
        .checked_add_signed(deadline)
        .is_some_and(|d| now > d)
}

pub(crate) fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// What a person is told when an isolation never reached the device (C14).
pub(crate) fn compensating(device: &str, what: &str, deadline: Duration) -> String {
    format!(
        "{what} for {device} is still pending after the {}s deadline: the device has not picked it \
         up (offline, or cut off from the EDR cloud) and is NOT isolated. Propose compensating \
         controls: disable the accounts signed in on it, contain the IP addresses it uses (block \
         indicators), or isolate it by other means",
        deadline.as_secs()
    )
}

pub(crate) fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The vendor id a previous step recorded for this target (`{"vendor": …, <field>: …}`), so
/// later steps act on what capture resolved instead of looking the host up again.
pub(crate) fn recorded_id(recorded: &[&Value], vendor: &str, field: &str) -> Option<String> {
    recorded
        .iter()
        .find(|v| str_of(v, "vendor") == vendor)
        .map(|v| str_of(v, field))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// Exactly one device carries `name`; none or several is not found, never a guess.
/// `what` names the devices ("MDE machine"), `by_id` how to name one by id ("mde:<id>").
pub(crate) fn one_named(
    ids: Vec<String>,
    name: &str,
    what: &str,
    by_id: &str,
) -> Result<String, Failure> {
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Failure::NotFound {
            detail: format!("no {what} is named {name}"),
        }),
        many => Err(Failure::NotFound {
            detail: format!(
                "{name} is ambiguous: {} {what}s carry that name ({}); name it by id ({by_id})",
                many.len(),
                many.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str) -> Target {
        Target {
            kind: TargetKind::Device,
            id: id.into(),
            owner: None,
            account: None,
        }
    }

    #[test]
    fn device_ids() {
        let mde = "a".repeat(40);
        assert_eq!(
            parse_device(&dev(&format!("mde:{mde}"))),
            Ok(DeviceRef::Mde(mde.clone()))
        );
        assert_eq!(
            parse_device(&dev(&"B".repeat(32))),
            Ok(DeviceRef::Cs("b".repeat(32)))
        );
        assert_eq!(
            parse_device(&dev("host:ws-01.contoso.com")),
            Ok(DeviceRef::Host("ws-01.contoso.com".into()))
        );
        assert!(parse_device(&dev("mde:xyz")).is_err());
        assert!(parse_device(&dev("host:")).is_err());
        assert!(parse_device(&dev("ws-01")).is_err());
    }

    #[test]
    fn deadlines() {
        let now = Utc::now();
        let d = Duration::from_secs(60);
        assert!(past_deadline(
            Some(now - chrono::Duration::seconds(61)),
            d,
            now
        ));
        assert!(!past_deadline(
            Some(now - chrono::Duration::seconds(59)),
            d,
            now
        ));
        assert!(!past_deadline(None, d, now));
    }
}
