//! Defender for Endpoint: isolate / release a machine (asynchronous machine actions, C14) and
//! contain an IP with a block indicator.

use super::{
    compensating, one_named, parse_device, parse_time, past_deadline, recorded_id, str_of,
    unsupported, DeviceRef, Direction,
};
use crate::client::mde::{MdeClient, MACHINE_ISOLATE, MACHINE_READ, TI_READWRITE};
use crate::config::{BlockAction, ConfigError, IsolationType, MdeConfig};
use crate::error::ApiError;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use cordon_core::action::{ActionKind, Target, TargetKind};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionGap, PermissionReport, Responder, TargetState,
    Verification,
};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::Duration;

/// The permissions (application roles) an action kind needs. Any one of the alternatives in
/// [`accepted`] satisfies a name.
pub fn required_permissions(kind: ActionKind) -> Vec<&'static str> {
    match kind {
        ActionKind::IsolateDevice | ActionKind::ReleaseDevice => {
            vec![MACHINE_ISOLATE, MACHINE_READ]
        }
        ActionKind::ContainIp | ActionKind::UncontainIp => vec![TI_READWRITE],
        _ => Vec::new(),
    }
}

/// Roles that grant a required permission.
fn accepted(permission: &str) -> &'static [&'static str] {
    match permission {
        MACHINE_READ => &["Machine.Read.All", "Machine.ReadWrite.All"],
        MACHINE_ISOLATE => &["Machine.Isolate"],
        TI_READWRITE => &["Ti.ReadWrite.All", "Ti.ReadWrite"],
        _ => &[],
    }
}

const KINDS: [ActionKind; 4] = [
    ActionKind::IsolateDevice,
    ActionKind::ReleaseDevice,
    ActionKind::ContainIp,
    ActionKind::UncontainIp,
];

const BLOCKING: [&str; 3] = ["Block", "AlertAndBlock", "BlockAndRemediate"];

/// Microsoft Defender for Endpoint responder.
pub struct MdeResponder {
    client: MdeClient,
    isolation_type: IsolationType,
    pending_deadline: Duration,
    indicator_expiration: chrono::Duration,
    indicator_action: BlockAction,
    indicator_severity: String,
    generate_alert: bool,
}

/// A machine's isolation, as read.
struct Isolation {
    machine: Value,
    isolated: bool,
    /// The isolate/unisolate action still Pending or InProgress, if any.
    active: Option<Value>,
}

impl Isolation {
    fn summary(&self) -> String {
        let mut s = format!(
            "{} ({}): isolated={}, healthStatus={}, lastSeen={}",
            str_of(&self.machine, "computerDnsName"),
            str_of(&self.machine, "id"),
            self.isolated,
            str_of(&self.machine, "healthStatus"),
            str_of(&self.machine, "lastSeen"),
        );
        if let Some(a) = &self.active {
            s.push_str(&format!(
                ", {} action {} {} (not in effect yet)",
                str_of(a, "type"),
                str_of(a, "id"),
                str_of(a, "status")
            ));
        }
        s
    }

    fn data(&self) -> Value {
        json!({
            "vendor": "mde",
            "machineId": str_of(&self.machine, "id"),
            "computerDnsName": str_of(&self.machine, "computerDnsName"),
            "isolated": self.isolated,
            "healthStatus": str_of(&self.machine, "healthStatus"),
            "lastSeen": str_of(&self.machine, "lastSeen"),
            "activeAction": self.active.as_ref().map(|a| json!({
                "id": str_of(a, "id"), "type": str_of(a, "type"), "status": str_of(a, "status"),
            })),
        })
    }
}

fn mde_type(d: Direction) -> &'static str {
    match d {
        Direction::Isolate => "Isolate",
        Direction::Release => "Unisolate",
    }
}

fn is_active(action: &Value) -> bool {
    matches!(str_of(action, "status"), "Pending" | "InProgress")
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether an indicator blocks its IP now.
fn blocks(ind: &Value, now: DateTime<Utc>) -> bool {
    str_of(ind, "indicatorType") == "IpAddress"
        && BLOCKING.contains(&str_of(ind, "action"))
        && parse_time(ind.get("expirationTime")).is_none_or(|e| e > now)
}

/// The fields of an indicator that re-create it.
fn restorable(ind: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "indicatorValue",
        "indicatorType",
        "action",
        "title",
        "description",
        "expirationTime",
        "severity",
        "generateAlert",
        "recommendedActions",
        "rbacGroupNames",
        "application",
    ] {
        if let Some(v) = ind.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

fn parse_ip(target: &Target) -> Result<IpAddr, Failure> {
    if target.kind != TargetKind::Ip {
        return Err(Failure::Permanent {
            detail: format!("{} is a {:?} target, not an IP", target.id, target.kind),
        });
    }
    let raw = target.id.trim();
    if raw.contains('/') {
        return Err(Failure::Permanent {
            detail: format!("{raw} is a range: MDE indicators take single addresses, not CIDR"),
        });
    }
    raw.parse::<IpAddr>().map_err(|_| Failure::Permanent {
        detail: format!("{raw:?} is not an IP address"),
    })
}

impl MdeResponder {
    /// Validates the configuration and builds the client (no network call yet).
    pub fn new(cfg: MdeConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self {
            client: MdeClient::new(&cfg)?,
            isolation_type: cfg.isolation_type,
            pending_deadline: Duration::from_secs(cfg.pending_deadline_secs),
            indicator_expiration: chrono::Duration::seconds(
                i64::try_from(cfg.indicator_expiration_secs).unwrap_or(i64::MAX / 1000),
            ),
            indicator_action: cfg.indicator_action,
            indicator_severity: cfg.indicator_severity,
            generate_alert: cfg.indicator_generate_alert,
        })
    }

    /// Machine ids whose `computerDnsName` is `name`.
    pub async fn machines_named(&self, name: &str) -> Result<Vec<String>, Failure> {
        Ok(self
            .client
            .machines_named(name)
            .await?
            .iter()
            .map(|m| str_of(m, "id").to_string())
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// The machine id of a target: from what was recorded, else from the target itself.
    async fn machine_id(&self, target: &Target, recorded: &[&Value]) -> Result<String, Failure> {
        if let Some(id) = recorded_id(recorded, "mde", "machineId") {
            return Ok(id);
        }
        match parse_device(target)? {
            DeviceRef::Mde(id) => Ok(id),
            DeviceRef::Cs(_) => Err(Failure::Permanent {
                detail: format!("{} is a CrowdStrike device, not an MDE machine", target.id),
            }),
            DeviceRef::Host(name) => one_named(
                self.machines_named(&name).await?,
                &name,
                "MDE machine",
                "mde:<id>",
            ),
        }
    }

    async fn isolation(&self, machine_id: &str) -> Result<Isolation, Failure> {
        let machine = self.client.get_machine(machine_id).await?;
        let mut actions: Vec<Value> = self
            .client
            .machine_actions(machine_id)
            .await?
            .into_iter()
            .filter(|a| matches!(str_of(a, "type"), "Isolate" | "Unisolate"))
            .collect();
        actions.sort_by_key(|a| parse_time(a.get("creationDateTimeUtc")));
        let isolated = match actions
            .iter()
            .rev()
            .find(|a| str_of(a, "status") == "Succeeded")
        {
            Some(a) => str_of(a, "type") == "Isolate",
            None => machine
                .get("isolated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        let active = actions.iter().rev().find(|a| is_active(a)).cloned();
        Ok(Isolation {
            machine,
            isolated,
            active,
        })
    }

    fn pending(&self, action: &Value, adopted: bool) -> Done {
        let detail = format!(
            "{} of {} requested: machine action {} is {}{}; not in effect until the device picks it up",
            str_of(action, "type"),
            str_of(action, "computerDnsName"),
            str_of(action, "id"),
            str_of(action, "status"),
            if adopted {
                format!(
                    " (already requested by {}; following that request)",
                    str_of(action, "requestor")
                )
            } else {
                String::new()
            }
        );
        Done::Pending {
            detail,
            reference: json!({
                "vendor": "mde",
                "machineId": str_of(action, "machineId"),
                "machineActionId": str_of(action, "id"),
                "type": str_of(action, "type"),
                "created": str_of(action, "creationDateTimeUtc"),
                "adopted": adopted,
            }),
        }
    }

    /// Requests isolate/unisolate; an identical request already in flight is followed rather
    /// than duplicated.
    async fn request(
        &self,
        machine_id: &str,
        d: Direction,
        comment: &str,
    ) -> Result<Done, Failure> {
        match self
            .client
            .isolation(
                machine_id,
                d == Direction::Isolate,
                comment,
                self.isolation_type.as_str(),
            )
            .await
        {
            Ok(action) => Ok(self.pending(&action, false)),
            Err(ApiError {
                code: Some(code), ..
            }) if code == "ActiveRequestAlreadyExists" => {
                let iso = self.isolation(machine_id).await?;
                match iso.active {
                    Some(a) if str_of(&a, "type") == mde_type(d) => Ok(self.pending(&a, true)),
                    Some(a) => Err(Failure::Permanent {
                        detail: format!(
                            "cannot {}: machine action {} ({} by {}) is still {} on {}; \
                             it must complete or be cancelled first",
                            mde_type(d).to_lowercase(),
                            str_of(&a, "id"),
                            str_of(&a, "type"),
                            str_of(&a, "requestor"),
                            str_of(&a, "status"),
                            machine_id
                        ),
                    }),
                    None => Err(Failure::Permanent {
                        detail: format!(
                            "MDE answered ActiveRequestAlreadyExists for {machine_id} but lists \
                             no pending isolation action"
                        ),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn verify_action(
        &self,
        target: &Target,
        d: Direction,
        reference: &Value,
    ) -> Result<Verification, Failure> {
        let action_id = str_of(reference, "machineActionId");
        if action_id.is_empty() {
            // Nothing to follow (an apply found done on resume): read the device itself.
            let id = self.machine_id(target, &[reference]).await?;
            let iso = self.isolation(&id).await?;
            let done = (d == Direction::Isolate) == iso.isolated;
            return Ok(if done {
                Verification::Effective {
                    detail: iso.summary(),
                }
            } else {
                Verification::NotYet {
                    detail: iso.summary(),
                }
            });
        }
        let action = self.client.machine_action(action_id).await?;
        let status = str_of(&action, "status");
        let device = format!(
            "{} ({})",
            str_of(&action, "computerDnsName"),
            str_of(&action, "machineId")
        );
        let what = format!("{} action {action_id}", str_of(&action, "type"));
        Ok(match status {
            "Succeeded" => Verification::Effective {
                detail: format!("{what} Succeeded on {device}"),
            },
            "Pending" | "InProgress" => {
                let created = parse_time(action.get("creationDateTimeUtc"))
                    .or_else(|| parse_time(reference.get("created")));
                if past_deadline(created, self.pending_deadline, Utc::now()) {
                    Verification::NotEffective {
                        detail: compensating(
                            &device,
                            &format!("{what} ({status})"),
                            self.pending_deadline,
                        ),
                    }
                } else {
                    Verification::NotYet {
                        detail: format!("{what} is {status} on {device}"),
                    }
                }
            }
            other => Verification::NotEffective {
                detail: format!(
                    "{what} ended {other} on {device}: the device is not {}",
                    match d {
                        Direction::Isolate => "isolated",
                        Direction::Release => "released",
                    }
                ),
            },
        })
    }

    async fn revert_device(
        &self,
        target: &Target,
        d: Direction,
        prior: &TargetState,
        applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!("left as found before Cordon acted: {}", prior.summary),
            });
        }
        let reference = match applied {
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference.clone(),
            Done::AlreadyInState { .. } => Value::Null,
        };
        let machine_id = self.machine_id(target, &[&prior.data, &reference]).await?;
        // Our request has not reached the device yet: cancel it rather than queue the inverse.
        let ours = str_of(&reference, "machineActionId");
        if !ours.is_empty()
            && !reference
                .get("adopted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        {
            let action = self.client.machine_action(ours).await?;
            if is_active(&action) {
                match self.client.cancel_action(ours, &ctx.comment).await {
                    Ok(_) => {
                        return Ok(Done::Applied {
                            detail: format!(
                            "cancelled {} action {ours} before it took effect; {} left as found",
                            str_of(&action, "type"),
                            machine_id
                        ),
                            reference: json!({"vendor": "mde", "machineId": machine_id, "cancelledActionId": ours}),
                            reverify_at: None,
                        })
                    }
                    // It completed in the meantime: undo it below.
                    Err(ApiError {
                        status: Some(400), ..
                    }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let iso = self.isolation(&machine_id).await?;
        let back = d.inverse();
        let already = match back {
            Direction::Release => !iso.isolated,
            Direction::Isolate => iso.isolated,
        } && iso
            .active
            .as_ref()
            .is_none_or(|a| str_of(a, "type") == mde_type(back));
        if already {
            return Ok(Done::AlreadyInState {
                detail: format!("already as found before: {}", iso.summary()),
            });
        }
        self.request(&machine_id, back, &ctx.comment).await
    }

    async fn capture_ip(&self, kind: ActionKind, ip: IpAddr) -> Result<TargetState, Failure> {
        let now = Utc::now();
        let inds: Vec<Value> = self
            .client
            .indicators_for(&ip.to_string())
            .await?
            .into_iter()
            .filter(|i| str_of(i, "indicatorType") == "IpAddress")
            .collect();
        let blocking: Vec<&Value> = inds.iter().filter(|i| blocks(i, now)).collect();
        let summary = if inds.is_empty() {
            format!("{ip}: no indicator")
        } else {
            inds.iter()
                .map(|i| {
                    format!(
                        "{ip}: indicator {} action={} expires={} by {}",
                        id_string(i.get("id")).unwrap_or_default(),
                        str_of(i, "action"),
                        i.get("expirationTime")
                            .and_then(Value::as_str)
                            .unwrap_or("never"),
                        str_of(i, "createdBy")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        Ok(TargetState {
            contained: match kind {
                ActionKind::ContainIp => !blocking.is_empty(),
                _ => blocking.is_empty(),
            },
            summary,
            data: json!({"vendor": "mde", "ip": ip.to_string(), "indicators": inds}),
        })
    }

    async fn contain_ip(
        &self,
        ip: IpAddr,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let expires = ctx.now + self.indicator_expiration;
        let body = json!({
            "indicatorValue": ip.to_string(),
            "indicatorType": "IpAddress",
            "action": self.indicator_action.as_str(),
            "title": format!("Cordon: contain {ip} (incident {})", ctx.incident_id),
            "description": format!(
                "{}. Blocked by Cordon action {} for incident {}; removed when the action is undone.",
                ctx.comment.trim_end_matches('.'), ctx.action_id, ctx.incident_id
            ),
            "expirationTime": expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            "severity": self.indicator_severity,
            "generateAlert": self.generate_alert,
            "recommendedActions": "Investigate the devices that contacted this address.",
        });
        // Submitting replaces an existing indicator of the same value: keep it to restore it.
        let replaced = prior
            .data
            .get("indicators")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned();
        let created = self.client.submit_indicator(&body).await?;
        let Some(id) = id_string(created.get("id")) else {
            return Err(Failure::Unknown {
                detail: format!("MDE accepted the block indicator for {ip} but returned no id"),
            });
        };
        Ok(Done::Applied {
            detail: format!(
                "{} indicator {id} for {ip} until {}{}",
                self.indicator_action.as_str(),
                expires.to_rfc3339_opts(SecondsFormat::Secs, true),
                if replaced.is_some() {
                    " (replaced the indicator found before; undo restores it)"
                } else {
                    ""
                }
            ),
            reference: json!({
                "vendor": "mde", "indicatorId": id, "ip": ip.to_string(),
                "expirationTime": expires.to_rfc3339_opts(SecondsFormat::Secs, true),
                "replaced": replaced,
            }),
            reverify_at: None,
        })
    }

    async fn revert_contain_ip(
        &self,
        ip: IpAddr,
        prior: &TargetState,
        applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!("left as found before Cordon acted: {}", prior.summary),
            });
        }
        let reference = match applied {
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference.clone(),
            Done::AlreadyInState { .. } => Value::Null,
        };
        if let Some(old) = reference.get("replaced").filter(|v| v.is_object()) {
            self.client.submit_indicator(&restorable(old)).await?;
            return Ok(Done::Applied {
                detail: format!(
                    "restored the indicator found before on {ip} (action {})",
                    str_of(old, "action")
                ),
                reference: json!({"vendor": "mde", "restored": old}),
                reverify_at: None,
            });
        }
        let id = match id_string(reference.get("indicatorId")) {
            Some(id) => Some(id),
            None => self
                .client
                .indicators_for(&ip.to_string())
                .await?
                .iter()
                .find(|i| str_of(i, "description").contains(&ctx.action_id))
                .and_then(|i| id_string(i.get("id"))),
        };
        let Some(id) = id else {
            return Ok(Done::AlreadyInState {
                detail: format!("no indicator of this action is left on {ip}"),
            });
        };
        match self.client.delete_indicator(&id).await {
            Ok(()) => Ok(Done::Applied {
                detail: format!("deleted block indicator {id} for {ip}"),
                reference: json!({"vendor": "mde", "deletedIndicatorId": id}),
                reverify_at: None,
            }),
            Err(ApiError {
                failure: Failure::NotFound { .. },
                ..
            }) => Ok(Done::AlreadyInState {
                detail: format!("block indicator {id} for {ip} was already gone"),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn uncontain_ip(&self, ip: IpAddr, prior: &TargetState) -> Result<Done, Failure> {
        let now = Utc::now();
        let mut deleted = Vec::new();
        for ind in prior
            .data
            .get("indicators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|i| blocks(i, now))
        {
            let Some(id) = id_string(ind.get("id")) else {
                continue;
            };
            match self.client.delete_indicator(&id).await {
                Ok(()) => deleted.push(id),
                Err(ApiError {
                    failure: Failure::NotFound { .. },
                    ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Done::Applied {
            detail: format!("deleted block indicators {deleted:?} for {ip}"),
            reference: json!({"vendor": "mde", "deleted": deleted, "ip": ip.to_string()}),
            reverify_at: None,
        })
    }

    async fn revert_uncontain_ip(&self, ip: IpAddr, prior: &TargetState) -> Result<Done, Failure> {
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!("left as found before Cordon acted: {}", prior.summary),
            });
        }
        let now = Utc::now();
        let mut restored = 0;
        for ind in prior
            .data
            .get("indicators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|i| blocks(i, now))
        {
            self.client.submit_indicator(&restorable(ind)).await?;
            restored += 1;
        }
        Ok(Done::Applied {
            detail: format!("re-created {restored} block indicator(s) for {ip}"),
            reference: json!({"vendor": "mde", "ip": ip.to_string()}),
            reverify_at: None,
        })
    }
}

#[async_trait]
impl Responder for MdeResponder {
    fn name(&self) -> &'static str {
        "mde"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        KINDS.to_vec()
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        match (Direction::of(kind), kind) {
            (Some(d), _) => {
                let id = self.machine_id(target, &[]).await?;
                let iso = self.isolation(&id).await?;
                Ok(TargetState {
                    contained: (d == Direction::Isolate) == iso.isolated,
                    summary: iso.summary(),
                    data: iso.data(),
                })
            }
            (None, ActionKind::ContainIp | ActionKind::UncontainIp) => {
                self.capture_ip(kind, parse_ip(target)?).await
            }
            _ => Err(unsupported("mde", kind)),
        }
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        match (Direction::of(kind), kind) {
            (Some(d), _) => {
                let id = self.machine_id(target, &[&prior.data]).await?;
                self.request(&id, d, &ctx.comment).await
            }
            (None, ActionKind::ContainIp) => self.contain_ip(parse_ip(target)?, prior, ctx).await,
            (None, ActionKind::UncontainIp) => self.uncontain_ip(parse_ip(target)?, prior).await,
            _ => Err(unsupported("mde", kind)),
        }
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        let reference = match applied {
            Done::AlreadyInState { detail } => {
                return Ok(Verification::Effective {
                    detail: detail.clone(),
                })
            }
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference,
        };
        match (Direction::of(kind), kind) {
            (Some(d), _) => self.verify_action(target, d, reference).await,
            (None, ActionKind::ContainIp | ActionKind::UncontainIp) => {
                let ip = parse_ip(target)?;
                let now = Utc::now();
                let inds = self.client.indicators_for(&ip.to_string()).await?;
                let ours = id_string(reference.get("indicatorId"));
                let blocking: Vec<&Value> = inds
                    .iter()
                    .filter(|i| blocks(i, now))
                    .filter(|i| ours.is_none() || id_string(i.get("id")) == ours)
                    .collect();
                let effective = (kind == ActionKind::ContainIp) != blocking.is_empty();
                let detail = format!("{} active block indicator(s) for {ip}", blocking.len());
                Ok(if effective {
                    Verification::Effective { detail }
                } else {
                    Verification::NotEffective { detail }
                })
            }
            _ => Err(unsupported("mde", kind)),
        }
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        match (Direction::of(kind), kind) {
            (Some(d), _) => self.revert_device(target, d, prior, applied, ctx).await,
            (None, ActionKind::ContainIp) => {
                self.revert_contain_ip(parse_ip(target)?, prior, applied, ctx)
                    .await
            }
            (None, ActionKind::UncontainIp) => {
                self.revert_uncontain_ip(parse_ip(target)?, prior).await
            }
            _ => Err(unsupported("mde", kind)),
        }
    }

    async fn check(&self) -> PermissionReport {
        let (authenticated, detail, granted) = match self.client.token().await {
            Ok((_, roles)) => (true, format!("token roles: {}", roles.join(", ")), roles),
            Err(f) => (false, f.to_string(), Vec::new()),
        };
        let gaps = KINDS
            .iter()
            .filter_map(|k| {
                let missing: Vec<String> = required_permissions(*k)
                    .into_iter()
                    .filter(|p| !accepted(p).iter().any(|a| granted.iter().any(|g| g == a)))
                    .map(str::to_string)
                    .collect();
                (!missing.is_empty()).then_some(PermissionGap {
                    action: *k,
                    missing,
                })
            })
            .collect();
        PermissionReport {
            connector: "mde".into(),
            authenticated,
            checked: true,
            detail,
            granted,
            gaps,
        }
    }
}
