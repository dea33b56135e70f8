//! One responder for every device and IP action: sends `mde:` ids to Defender for Endpoint,
//! `cs:` ids to CrowdStrike, and looks a `host:` name up in MDE first, then in CrowdStrike.
//! IPs are contained with MDE indicators.

use super::crowdstrike::CrowdStrikeResponder;
use super::mde::MdeResponder;
use super::{parse_device, str_of, DeviceRef};
use crate::config::{ConfigError, EndpointConfig};
use async_trait::async_trait;
use cordon_core::action::{ActionKind, Target};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionReport, Responder, TargetState, Verification,
};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Mde,
    Cs,
}

/// Dispatches device actions by id prefix, and IP actions to MDE.
pub struct DeviceRouter {
    mde: Option<Arc<MdeResponder>>,
    cs: Option<Arc<CrowdStrikeResponder>>,
}

impl DeviceRouter {
    pub fn new(mde: Option<Arc<MdeResponder>>, cs: Option<Arc<CrowdStrikeResponder>>) -> Self {
        Self { mde, cs }
    }

    /// Validates the section and builds the configured vendors' responders.
    pub fn from_config(cfg: EndpointConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mde = cfg.mde.map(MdeResponder::new).transpose()?.map(Arc::new);
        let cs = cfg
            .crowdstrike
            .map(CrowdStrikeResponder::new)
            .transpose()?
            .map(Arc::new);
        Ok(Self::new(mde, cs))
    }

    fn mde(&self) -> Result<&MdeResponder, Failure> {
        self.mde.as_deref().ok_or_else(|| Failure::Permanent {
            detail: "Defender for Endpoint is not configured".into(),
        })
    }

    fn cs(&self) -> Result<&CrowdStrikeResponder, Failure> {
        self.cs.as_deref().ok_or_else(|| Failure::Permanent {
            detail: "CrowdStrike is not configured".into(),
        })
    }

    fn responder(&self, v: Vendor) -> Result<&dyn Responder, Failure> {
        Ok(match v {
            Vendor::Mde => self.mde()?,
            Vendor::Cs => self.cs()?,
        })
    }

    /// The vendor and a concrete target (`mde:<id>` / `cs:<aid>`) for a device; `recorded` is
    /// what an earlier step read (capture data, apply reference), which wins over a lookup.
    async fn route(
        &self,
        kind: ActionKind,
        target: &Target,
        recorded: &[&Value],
    ) -> Result<(Vendor, Target), Failure> {
        if matches!(kind, ActionKind::ContainIp | ActionKind::UncontainIp) {
            self.mde()?;
            return Ok((Vendor::Mde, target.clone()));
        }
        let concrete = |prefix: &str, id: &str| Target {
            id: format!("{prefix}:{id}"),
            ..target.clone()
        };
        for r in recorded {
            match str_of(r, "vendor") {
                "mde" if !str_of(r, "machineId").is_empty() => {
                    return Ok((Vendor::Mde, concrete("mde", str_of(r, "machineId"))))
                }
                "crowdstrike" if !str_of(r, "deviceId").is_empty() => {
                    return Ok((Vendor::Cs, concrete("cs", str_of(r, "deviceId"))))
                }
                _ => {}
            }
        }
        match parse_device(target)? {
            DeviceRef::Mde(_) => self.mde().map(|_| (Vendor::Mde, target.clone())),
            DeviceRef::Cs(_) => self.cs().map(|_| (Vendor::Cs, target.clone())),
            DeviceRef::Host(name) => {
                let mut looked = Vec::new();
                if let Some(m) = &self.mde {
                    let ids = m.machines_named(&name).await?;
                    match ids.as_slice() {
                        [one] => return Ok((Vendor::Mde, concrete("mde", one))),
                        [] => looked.push("Defender for Endpoint"),
                        many => {
                            return Err(Failure::NotFound {
                                detail: format!(
                                "host {name} is ambiguous: {} MDE machines carry that name ({}); \
                                     name the device by id",
                                many.len(),
                                many.join(", ")
                            ),
                            })
                        }
                    }
                }
                if let Some(c) = &self.cs {
                    let ids = c.devices_named(&name).await?;
                    match ids.as_slice() {
                        [one] => return Ok((Vendor::Cs, concrete("cs", one))),
                        [] => looked.push("CrowdStrike"),
                        many => {
                            return Err(Failure::NotFound {
                                detail: format!(
                                    "host {name} is ambiguous: {} CrowdStrike hosts carry that name ({}); \
                                     name the device by id",
                                    many.len(),
                                    many.join(", ")
                                ),
                            })
                        }
                    }
                }
                Err(Failure::NotFound {
                    detail: format!("no device named {name} in {}", looked.join(" or ")),
                })
            }
        }
    }
}

fn reference(done: &Done) -> Option<&Value> {
    match done {
        Done::Applied { reference, .. } | Done::Pending { reference, .. } => Some(reference),
        Done::AlreadyInState { .. } => None,
    }
}

#[async_trait]
impl Responder for DeviceRouter {
    fn name(&self) -> &'static str {
        "endpoint"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        let mut k = Vec::new();
        if self.mde.is_some() || self.cs.is_some() {
            k.extend([ActionKind::IsolateDevice, ActionKind::ReleaseDevice]);
        }
        if self.mde.is_some() {
            k.extend([ActionKind::ContainIp, ActionKind::UncontainIp]);
        }
        k
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        let (v, t) = self.route(kind, target, &[]).await?;
        self.responder(v)?.capture(kind, &t).await
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let (v, t) = self.route(kind, target, &[&prior.data]).await?;
        self.responder(v)?.apply(kind, &t, prior, ctx).await
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        let recorded: Vec<&Value> = reference(applied).into_iter().collect();
        let (v, t) = self.route(kind, target, &recorded).await?;
        self.responder(v)?.verify(kind, &t, applied).await
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let mut recorded = vec![&prior.data];
        recorded.extend(reference(applied));
        let (v, t) = self.route(kind, target, &recorded).await?;
        self.responder(v)?
            .revert(kind, &t, prior, applied, ctx)
            .await
    }

    async fn check(&self) -> PermissionReport {
        let mut reports = Vec::new();
        if let Some(m) = &self.mde {
            reports.push(m.check().await);
        }
        if let Some(c) = &self.cs {
            reports.push(c.check().await);
        }
        let mut out = PermissionReport {
            connector: "endpoint".into(),
            authenticated: !reports.is_empty() && reports.iter().all(|r| r.authenticated),
            checked: true,
            detail: String::new(),
            granted: Vec::new(),
            gaps: Vec::new(),
        };
        let mut details = Vec::new();
        for r in reports {
            details.push(format!("{}: {}", r.connector, r.detail));
            out.granted
                .extend(r.granted.iter().map(|g| format!("{}: {g}", r.connector)));
            for mut g in r.gaps {
                g.missing = g
                    .missing
                    .iter()
                    .map(|m| format!("{} {m}", r.connector))
                    .collect();
                match out.gaps.iter_mut().find(|x| x.action == g.action) {
                    Some(x) => x.missing.extend(g.missing),
                    None => out.gaps.push(g),
                }
            }
        }
        out.detail = details.join(" | ");
        out
    }
}
