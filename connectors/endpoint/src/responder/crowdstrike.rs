//! CrowdStrike Falcon: contain / lift containment of a host. Containment is asynchronous: the
//! host shows `containment_pending` until its sensor applies it, which an offline host never
//! does (C14).

use super::{
    compensating, one_named, parse_device, parse_time, past_deadline, recorded_id, str_of,
    unsupported, DeviceRef, Direction,
};
use crate::client::crowdstrike::{CsClient, HOSTS_READ, HOSTS_WRITE};
use crate::config::{ConfigError, CrowdStrikeConfig};
use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use cordon_core::action::{ActionKind, Target};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionGap, PermissionReport, Responder, TargetState,
    Verification,
};
use serde_json::{json, Value};
use std::time::Duration;

/// The API client scopes an action kind needs.
pub fn required_permissions(kind: ActionKind) -> Vec<&'static str> {
    match kind {
        ActionKind::IsolateDevice | ActionKind::ReleaseDevice => vec![HOSTS_WRITE, HOSTS_READ],
        _ => Vec::new(),
    }
}

const KINDS: [ActionKind; 2] = [ActionKind::IsolateDevice, ActionKind::ReleaseDevice];

/// CrowdStrike Falcon responder.
pub struct CrowdStrikeResponder {
    client: CsClient,
    pending_deadline: Duration,
}

fn action_name(d: Direction) -> &'static str {
    match d {
        Direction::Isolate => "contain",
        Direction::Release => "lift_containment",
    }
}

/// The status a direction ends in, and the one on the way there.
fn statuses(d: Direction) -> (&'static str, &'static str) {
    match d {
        Direction::Isolate => ("contained", "containment_pending"),
        Direction::Release => ("normal", "lift_containment_pending"),
    }
}

fn summary(dev: &Value) -> String {
    format!(
        "{} ({}): status={}, last_seen={}",
        str_of(dev, "hostname"),
        str_of(dev, "device_id"),
        str_of(dev, "status"),
        str_of(dev, "last_seen"),
    )
}

impl CrowdStrikeResponder {
    /// Validates the configuration and builds the client (no network call yet).
    pub fn new(cfg: CrowdStrikeConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self {
            client: CsClient::new(&cfg)?,
            pending_deadline: Duration::from_secs(cfg.pending_deadline_secs),
        })
    }

    /// Device ids of hosts named `name`.
    pub async fn devices_named(&self, name: &str) -> Result<Vec<String>, Failure> {
        Ok(self.client.devices_named(name).await?)
    }

    async fn device_id(&self, target: &Target, recorded: &[&Value]) -> Result<String, Failure> {
        if let Some(id) = recorded_id(recorded, "crowdstrike", "deviceId") {
            return Ok(id);
        }
        match parse_device(target)? {
            DeviceRef::Cs(id) => Ok(id),
            DeviceRef::Mde(_) => Err(Failure::Permanent {
                detail: format!("{} is an MDE machine, not a CrowdStrike host", target.id),
            }),
            DeviceRef::Host(name) => one_named(
                self.devices_named(&name).await?,
                &name,
                "CrowdStrike host",
                "cs:<aid>",
            ),
        }
    }

    fn state(d: Direction, dev: &Value) -> TargetState {
        TargetState {
            contained: str_of(dev, "status") == statuses(d).0,
            summary: summary(dev),
            data: json!({
                "vendor": "crowdstrike",
                "deviceId": str_of(dev, "device_id"),
                "hostname": str_of(dev, "hostname"),
                "status": str_of(dev, "status"),
            }),
        }
    }

    async fn request(&self, aid: &str, d: Direction) -> Result<Done, Failure> {
        self.client.action(aid, action_name(d)).await?;
        let requested = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        Ok(Done::Pending {
            detail: format!(
                "{} requested for host {aid}; not in effect until its sensor applies it",
                action_name(d)
            ),
            reference: json!({
                "vendor": "crowdstrike", "deviceId": aid, "action": action_name(d),
                "requested": requested,
            }),
        })
    }
}

#[async_trait]
impl Responder for CrowdStrikeResponder {
    fn name(&self) -> &'static str {
        "crowdstrike"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        KINDS.to_vec()
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        let d = Direction::of(kind).ok_or_else(|| unsupported("crowdstrike", kind))?;
        let aid = self.device_id(target, &[]).await?;
        let dev = self.client.device(&aid).await?;
        Ok(Self::state(d, &dev))
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        _ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let d = Direction::of(kind).ok_or_else(|| unsupported("crowdstrike", kind))?;
        let aid = self.device_id(target, &[&prior.data]).await?;
        self.request(&aid, d).await
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        let d = Direction::of(kind).ok_or_else(|| unsupported("crowdstrike", kind))?;
        let reference = match applied {
            Done::AlreadyInState { detail } => {
                return Ok(Verification::Effective {
                    detail: detail.clone(),
                })
            }
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference,
        };
        let aid = self.device_id(target, &[reference]).await?;
        let dev = self.client.device(&aid).await?;
        let status = str_of(&dev, "status");
        let (done, on_the_way) = statuses(d);
        Ok(if status == done {
            Verification::Effective {
                detail: summary(&dev),
            }
        } else if status == on_the_way {
            if past_deadline(
                parse_time(reference.get("requested")),
                self.pending_deadline,
                Utc::now(),
            ) {
                Verification::NotEffective {
                    detail: compensating(
                        &format!("{} ({aid})", str_of(&dev, "hostname")),
                        &format!("{} ({status})", action_name(d)),
                        self.pending_deadline,
                    ),
                }
            } else {
                Verification::NotYet {
                    detail: summary(&dev),
                }
            }
        } else {
            Verification::NotEffective {
                detail: format!("{} not in effect: {}", action_name(d), summary(&dev)),
            }
        })
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
        _ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let d = Direction::of(kind).ok_or_else(|| unsupported("crowdstrike", kind))?;
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!("left as found before Cordon acted: {}", prior.summary),
            });
        }
        let reference = match applied {
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference.clone(),
            Done::AlreadyInState { .. } => Value::Null,
        };
        let aid = self.device_id(target, &[&prior.data, &reference]).await?;
        let dev = self.client.device(&aid).await?;
        let back = d.inverse();
        let status = str_of(&dev, "status");
        if status == statuses(back).0 || status == statuses(back).1 {
            return Ok(Done::AlreadyInState {
                detail: format!("already as found before: {}", summary(&dev)),
            });
        }
        self.request(&aid, back).await
    }

    async fn check(&self) -> PermissionReport {
        let mut granted = Vec::new();
        let mut notes = Vec::new();
        let authenticated = match self.client.token().await {
            Ok(_) => true,
            Err(f) => {
                notes.push(f.to_string());
                false
            }
        };
        if authenticated {
            match self.client.probe_read().await {
                Ok(()) => granted.push(HOSTS_READ.to_string()),
                Err(e) if e.status == Some(403) => {
                    notes.push(format!("{HOSTS_READ} is not granted"))
                }
                Err(e) => notes.push(format!("could not check {HOSTS_READ}: {}", e.failure)),
            }
            match self.client.probe_write().await {
                Ok(true) => granted.push(HOSTS_WRITE.to_string()),
                Ok(false) => notes.push(format!("{HOSTS_WRITE} is not granted")),
                Err(e) => notes.push(format!("could not check {HOSTS_WRITE}: {}", e.failure)),
            }
        }
        let gaps = KINDS
            .iter()
            .filter_map(|k| {
                let missing: Vec<String> = required_permissions(*k)
                    .into_iter()
                    .filter(|p| !granted.iter().any(|g| g == p))
                    .map(str::to_string)
                    .collect();
                (!missing.is_empty()).then_some(PermissionGap {
                    action: *k,
                    missing,
                })
            })
            .collect();
        PermissionReport {
            connector: "crowdstrike".into(),
            authenticated,
            checked: true,
            detail: if notes.is_empty() {
                format!("granted: {}", granted.join(", "))
            } else {
                notes.join("; ")
            },
            granted,
            gaps,
        }
    }
}
