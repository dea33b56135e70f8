//! The decision: which assets in an incident the attacker controls, how sure Cordon is and why,
//! and which actions follow. Pure: a function of the incident's alerts and the policy.

use crate::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target, TargetKind};
use crate::alert::{Alert, AlertIdentity, Coverage, Severity, Source};
use crate::entity::{
    AlertEntity, Directory, Entity, EntityKind, Resolution, Role, Strength, UserEntity,
};
use crate::ids::AwsPrincipalKind;
use crate::policy::{Policy, Precision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// One alert's contribution to an asset's confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub alert: AlertIdentity,
    pub title: String,
    pub detector_id: String,
    pub role: Role,
    pub prior_precision: f64,
    pub weight: f64,
    pub lower_bound: f64,
    /// Whether the detector had a configured prior (else the default one).
    pub configured: bool,
}

/// The decision about one asset of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetDecision {
    pub kind: EntityKind,
    pub label: String,
    /// Every role the asset played, across the incident's alerts.
    pub roles: Vec<Role>,
    /// Combined confidence that the attacker controls it (0 when no alert says so).
    pub confidence: f64,
    pub contain: bool,
    /// Evidence that counted (attacker / compromised roles only).
    pub evidence: Vec<Evidence>,
    /// The decision, in sentences.
    pub explanation: String,
}

/// An alert as an incident lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRef {
    pub identity: AlertIdentity,
    pub dedup_key: String,
    pub title: String,
    pub detector_id: String,
    pub severity: Severity,
    pub time: Option<DateTime<Utc>>,
}

/// An entity as an incident lists it, with the roles it played.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEntity {
    pub kind: EntityKind,
    pub label: String,
    pub roles: Vec<Role>,
}

/// An incident with its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub sources: Vec<Source>,
    pub first_activity: Option<DateTime<Utc>>,
    pub last_activity: Option<DateTime<Utc>>,
    pub alerts: Vec<AlertRef>,
    pub entities: Vec<IncidentEntity>,
    /// Some alert's entity list was truncated or missing: "nothing to contain" cannot be
    /// concluded from it (`../shared/cases` C3).
    pub partial: bool,
    /// Highest asset confidence.
    pub confidence: f64,
    pub assets: Vec<AssetDecision>,
    pub planned_actions: Vec<PlannedAction>,
    /// Things a person should look at (unresolved identities, blast radius, partial data).
    pub notes: Vec<String>,
}

/// One mention of an entity in one alert, with its decided role.
struct Mention<'a> {
    alert: &'a Alert,
    entity: &'a Entity,
    role: Role,
}

/// Decides an incident.
pub fn decide(policy: &Policy, incident_id: &str, alerts: &[&Alert]) -> Incident {
    let mut notes = Vec::new();
    let mentions: Vec<Mention> = alerts
        .iter()
        .flat_map(|a| {
            a.entities.iter().map(move |e: &AlertEntity| Mention {
                alert: a,
                entity: &e.entity,
                role: policy.role(a, e.entity.kind(), e.role_from_source.then_some(e.role)),
            })
        })
        .collect();

    let partial = alerts.iter().any(|a| a.coverage != Coverage::Complete);
    if partial {
        let which: Vec<String> = alerts
            .iter()
            .filter(|a| a.coverage != Coverage::Complete)
            .map(|a| match &a.coverage {
                Coverage::Missing => format!("{} carried no entities", a.identity()),
                Coverage::Truncated { received, declared } => format!(
                    "{} carried {received} entities{}",
                    a.identity(),
                    declared
                        .map(|d| format!(" of {d}"))
                        .unwrap_or_else(|| " (capped)".into())
                ),
                Coverage::Complete => String::new(),
            })
            .collect();
        notes.push(format!(
            "partial: {}; entities must be fetched from the source before concluding there is nothing to contain",
            which.join("; ")
        ));
    }

    // Group mentions into assets: same kind, shared strong key.
    let groups = group_assets(&mentions);
    let mut assets = Vec::new();
    let mut planned = Vec::new();
    // People first: a session that belongs to a person (an AWS SSO session named by the
    // person's e-mail) is controlled by whoever controls that person's identity.
    let person_keys = |ms: &[&Mention]| -> Vec<String> {
        let mut keys = Vec::new();
        for m in ms {
            m.entity.keys(|k, _| {
                if k.starts_with("person:") && !keys.contains(&k) {
                    keys.push(k)
                }
            });
        }
        keys
    };
    let (users, others): (Vec<Vec<usize>>, Vec<Vec<usize>>) = groups
        .into_iter()
        .partition(|g| mentions[g[0]].entity.kind() == EntityKind::User);
    let mut contained_people: HashMap<String, (String, f64)> = HashMap::new();
    for group in users.iter().chain(others.iter()) {
        let ms: Vec<&Mention> = group.iter().map(|&i| &mentions[i]).collect();
        let keys = person_keys(&ms);
        let linked = match ms[0].entity.kind() {
            EntityKind::User => None,
            _ => keys
                .iter()
                .filter_map(|k| contained_people.get(k))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .cloned(),
        };
        let (decision, actions) = decide_asset(policy, incident_id, &ms, linked, &mut notes);
        if decision.kind == EntityKind::User && decision.contain {
            for k in keys {
                contained_people.insert(k, (decision.label.clone(), decision.confidence));
            }
        }
        assets.push(decision);
        planned.extend(actions);
    }
    assets.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.label.cmp(&b.label))
    });

    // Blast radius.
    let runnable = planned
        .iter()
        .filter(|a| a.status == PlanStatus::Planned)
        .count();
    if runnable > policy.max_actions_per_incident {
        let why = format!(
            "blast-radius limit: {runnable} actions planned, limit {} per incident; tripped to audit, a person must confirm",
            policy.max_actions_per_incident
        );
        notes.push(why.clone());
        for a in planned
            .iter_mut()
            .filter(|a| a.status == PlanStatus::Planned)
        {
            a.status = PlanStatus::Skipped(why.clone());
            a.mode = Mode::Audit;
        }
    }
    // Execution order: the most certain asset first, and each asset's actions in the order the
    // policy lists them (disable before revoking sessions, so no new session slips in between).
    let rank: HashMap<&str, usize> = assets
        .iter()
        .enumerate()
        .map(|(i, a)| (a.label.as_str(), i))
        .collect();
    planned.sort_by_key(|a| rank.get(a.asset.as_str()).copied().unwrap_or(usize::MAX));

    let mut entities: BTreeMap<(EntityKind, String), BTreeSet<Role>> = BTreeMap::new();
    for m in &mentions {
        entities
            .entry((m.entity.kind(), m.entity.label()))
            .or_default()
            .insert(m.role);
    }
    let sources: BTreeSet<Source> = alerts.iter().map(|a| a.source).collect();
    let severity = alerts
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(Severity::Informational);
    let title = alerts
        .iter()
        .max_by(|a, b| {
            a.severity
                .cmp(&b.severity)
                .then_with(|| b.time().cmp(&a.time()))
        })
        .map(|a| a.title.clone())
        .unwrap_or_default();
    Incident {
        id: incident_id.to_string(),
        title,
        severity,
        sources: sources.into_iter().collect(),
        first_activity: alerts
            .iter()
            .filter_map(|a| a.first_activity.or(a.time()))
            .min(),
        last_activity: alerts
            .iter()
            .filter_map(|a| a.last_activity.or(a.time()))
            .max(),
        alerts: alerts
            .iter()
            .map(|a| AlertRef {
                identity: a.identity(),
                dedup_key: a.dedup_key(),
                title: a.title.clone(),
                detector_id: a.detector_id.clone(),
                severity: a.severity,
                time: a.time(),
            })
            .collect(),
        entities: entities
            .into_iter()
            .map(|((kind, label), roles)| IncidentEntity {
                kind,
                label,
                roles: roles.into_iter().collect(),
            })
            .collect(),
        partial,
        confidence: assets.iter().map(|a| a.confidence).fold(0.0, f64::max),
        assets,
        planned_actions: planned,
        notes,
    }
}

fn group_assets(mentions: &[Mention]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..mentions.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut by_key: HashMap<(EntityKind, String), usize> = HashMap::new();
    for (i, m) in mentions.iter().enumerate() {
        let kind = m.entity.kind();
        if kind == EntityKind::Context {
            continue;
        }
        let mut keys = Vec::new();
        m.entity.keys(|k, s| {
            // Weak keys (IPs) identify the IP asset itself.
            if s == Strength::Strong || kind == EntityKind::Ip {
                keys.push(k)
            }
        });
        for k in keys {
            match by_key.get(&(kind, k.clone())) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    by_key.insert((kind, k), i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, m) in mentions.iter().enumerate() {
        if m.entity.kind() == EntityKind::Context {
            continue;
        }
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().collect()
}

fn pct(x: f64) -> String {
    let s = format!("{:.4}", x * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

fn decide_asset(
    policy: &Policy,
    incident_id: &str,
    ms: &[&Mention],
    linked: Option<(String, f64)>,
    notes: &mut Vec<String>,
) -> (AssetDecision, Vec<PlannedAction>) {
    let kind = ms[0].entity.kind();
    let label = best_label(ms);
    let roles: BTreeSet<Role> = ms.iter().map(|m| m.role).collect();

    // Evidence: attacker / compromised mentions, one per alert.
    let mut evidence: Vec<Evidence> = Vec::new();
    for m in ms.iter().filter(|m| m.role.is_attacker_controlled()) {
        let id = m.alert.identity();
        if evidence.iter().any(|e| e.alert == id) {
            continue;
        }
        let Precision {
            prior,
            weight,
            lower_bound,
            configured,
        } = policy.precision(m.alert);
        evidence.push(Evidence {
            alert: id,
            title: m.alert.title.clone(),
            detector_id: m.alert.detector_id.clone(),
            role: m.role,
            prior_precision: prior,
            weight,
            lower_bound,
            configured,
        });
    }
    evidence.sort_by(|a, b| a.alert.cmp(&b.alert));
    // Within one source the strongest detector counts; across sources, noisy-OR.
    let mut per_source: BTreeMap<Source, &Evidence> = BTreeMap::new();
    for e in &evidence {
        let slot = per_source.entry(e.alert.source).or_insert(e);
        if e.lower_bound > slot.lower_bound {
            *slot = e;
        }
    }
    let confidence = 1.0
        - per_source
            .values()
            .map(|e| 1.0 - e.lower_bound)
            .product::<f64>();
    let own = if per_source.is_empty() {
        0.0
    } else {
        confidence
    };
    let (confidence, inherited) = match linked {
        Some((who, c)) if c > own => (c, Some((who, c))),
        _ => (own, None),
    };
    let contain = confidence >= policy.threshold;

    let mut why = Vec::new();
    if evidence.is_empty() && inherited.is_none() {
        let rs: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        why.push(format!(
            "No alert names it as attacker or compromised (roles seen: {}); not a containment target.",
            rs.join(", ")
        ));
    } else if !evidence.is_empty() {
        let parts: Vec<String> = per_source
            .iter()
            .map(|(src, e)| {
                format!(
                    "{src}: \"{}\" ({}) as {}, detector precision {} over {} observations{}, lower bound {}",
                    e.title,
                    e.detector_id,
                    e.role.as_str(),
                    pct(e.prior_precision),
                    e.weight,
                    if e.configured { "" } else { " (default prior: unknown detector)" },
                    pct(e.lower_bound)
                )
            })
            .collect();
        why.push(format!(
            "Evidence from {} source(s): {}.",
            per_source.len(),
            parts.join("; ")
        ));
        if per_source.len() > 1 {
            let terms: Vec<String> = per_source
                .values()
                .map(|e| format!("(1 - {:.4})", e.lower_bound))
                .collect();
            why.push(format!(
                "Combined as independent sources: 1 - {} = {}.",
                terms.join(" × "),
                pct(own)
            ));
        }
        if evidence.len() > per_source.len() {
            why.push(format!(
                "{} further alert(s) from the same source(s) not counted again (same product, not independent).",
                evidence.len() - per_source.len()
            ));
        }
        if inherited.is_none() {
            why.push(if contain {
                format!(
                    "Confidence {} reaches the threshold {}: contain.",
                    pct(confidence),
                    pct(policy.threshold)
                )
            } else {
                format!(
                    "Confidence {} is below the threshold {}: no containment.",
                    pct(confidence),
                    pct(policy.threshold)
                )
            });
        }
    }
    if let Some((who, c)) = &inherited {
        why.push(format!(
            "It is a session of {who}, whose identity is judged attacker-controlled at {}: whoever controls that identity controls its sessions, so it inherits that confidence ({} on its own).",
            pct(*c),
            pct(own)
        ));
        why.push(if contain {
            format!(
                "Confidence {} reaches the threshold {}: contain.",
                pct(confidence),
                pct(policy.threshold)
            )
        } else {
            format!(
                "Confidence {} is below the threshold {}: no containment.",
                pct(confidence),
                pct(policy.threshold)
            )
        });
    }
    if roles.contains(&Role::Victim) && !evidence.is_empty() {
        why.push(
            "It was also a victim in some alert; only attacker/compromised roles counted.".into(),
        );
    }

    let mut actions = Vec::new();
    if kind == EntityKind::User && !evidence.is_empty() {
        if let Resolution::Unresolved { reason } = merge_users(ms).resolve() {
            let msg = format!(
                "identity of {label} unresolved ({reason}): no action, a person must identify the account"
            );
            why.push(msg.clone());
            notes.push(msg);
            return (
                AssetDecision {
                    kind,
                    label,
                    roles: roles.into_iter().collect(),
                    confidence,
                    contain: false,
                    evidence,
                    explanation: why.join(" "),
                },
                actions,
            );
        }
    }
    if contain {
        plan_actions(
            policy,
            incident_id,
            kind,
            ms,
            &label,
            confidence,
            &mut actions,
            &mut why,
        );
    }
    let explanation = why.join(" ");
    (
        AssetDecision {
            kind,
            label,
            roles: roles.into_iter().collect(),
            confidence,
            contain,
            evidence,
            explanation,
        },
        actions,
    )
}

fn best_label(ms: &[&Mention]) -> String {
    // The richest label: prefer a mention with a person/arn/fqdn.
    let mut labels: Vec<String> = ms.iter().map(|m| m.entity.label()).collect();
    labels.sort_by(|a, b| {
        let score =
            |s: &String| (s.contains('@') || s.starts_with("arn:") || s.contains('.')) as u8;
        score(b).cmp(&score(a)).then_with(|| a.cmp(b))
    });
    labels.into_iter().next().unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn plan_actions(
    policy: &Policy,
    incident_id: &str,
    kind: EntityKind,
    ms: &[&Mention],
    label: &str,
    confidence: f64,
    out: &mut Vec<PlannedAction>,
    why: &mut Vec<String>,
) {
    let mut push = |kinds: &[ActionKind], target: Target, status: PlanStatus| {
        for &k in kinds {
            out.push(PlannedAction::new(
                incident_id,
                k,
                target.clone(),
                policy.mode_for(k),
                status.clone(),
                confidence,
                label.to_string(),
            ));
        }
    };
    match kind {
        EntityKind::User => {
            let merged = merge_users(ms);
            let mut names: Vec<&str> = Vec::new();
            let strs: Vec<String> = [
                merged.upn.as_ref().map(|v| v.to_string()),
                merged.email.as_ref().map(|v| v.to_string()),
                merged.object_id.as_ref().map(|v| v.to_string()),
                merged.okta_id.as_ref().map(|v| v.to_string()),
                merged.sam.as_ref().map(|v| v.to_string()),
                merged.sid.as_ref().map(|v| v.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            names.extend(strs.iter().map(String::as_str));
            let skip = if let Some(g) = Policy::matches_any(&policy.break_glass, &names) {
                Some(format!(
                    "break-glass account (matches {g:?}): never contained"
                ))
            } else {
                Policy::matches_any(&policy.exclusions.users, &names)
                    .map(|g| format!("excluded user (matches {g:?})"))
            };
            let resolution = merged.resolve();
            let in_entra = ms.iter().any(|m| {
                m.alert.source.is_microsoft()
                    || matches!(&m.entity, Entity::User(u) if u.directory == Some(Directory::Entra))
            });
            let in_okta = ms.iter().any(|m| {
                m.alert.source == Source::Okta
                    || matches!(&m.entity, Entity::User(u) if u.directory == Some(Directory::Okta) || u.okta_id.is_some())
            });
            let status = |s: &Option<String>| match s {
                Some(r) => PlanStatus::Skipped(r.clone()),
                None => PlanStatus::Planned,
            };
            let mut any = false;
            if in_entra {
                let id = merged
                    .object_id
                    .as_ref()
                    .map(|v| v.to_string())
                    .or_else(|| merged.upn.as_ref().map(|v| v.to_string()));
                match id {
                    Some(id) => {
                        if let Resolution::Resolved { rule, .. } = &resolution {
                            why.push(format!("Entra identity {id} (resolved by {rule:?})."));
                        }
                        push(
                            &policy.actions.entra_user,
                            target(TargetKind::EntraUser, id),
                            status(&skip),
                        );
                        any = true;
                    }
                    None => {
                        let msg = format!(
                            "{label} is an on-premises identity (SID / DOMAIN\\sam only): no Entra id to act on; a person must disable it in AD"
                        );
                        why.push(msg.clone());
                        push(
                            &policy.actions.entra_user,
                            target(TargetKind::EntraUser, label.to_string()),
                            PlanStatus::Escalate(msg),
                        );
                        any = true;
                    }
                }
            }
            if in_okta {
                let id = merged
                    .okta_id
                    .as_ref()
                    .map(|v| v.to_string())
                    .or_else(|| merged.person().map(|v| v.to_string()));
                if let Some(id) = id {
                    why.push(format!(
                        "Okta identity {id} ({}).",
                        if merged.okta_id.is_some() {
                            "the Okta user id the Okta events carry"
                        } else {
                            "an Okta login, looked up by the connector"
                        }
                    ));
                    push(
                        &policy.actions.okta_user,
                        target(TargetKind::OktaUser, id),
                        status(&skip),
                    );
                    any = true;
                }
            }
            if !any {
                why.push(format!(
                    "No directory connector applies to {label}; a person must act."
                ));
            }
        }
        EntityKind::Device => {
            let mut d = crate::entity::DeviceEntity::default();
            for m in ms {
                if let Entity::Device(x) = m.entity {
                    d.host_name = d.host_name.take().or_else(|| x.host_name.clone());
                    d.fqdn = d.fqdn.take().or_else(|| x.fqdn.clone());
                    d.mde_device_id = d.mde_device_id.take().or_else(|| x.mde_device_id.clone());
                    d.cs_agent_id = d.cs_agent_id.take().or_else(|| x.cs_agent_id.clone());
                    d.cloud_resource_id = d
                        .cloud_resource_id
                        .take()
                        .or_else(|| x.cloud_resource_id.clone());
                }
            }
            let names: Vec<String> = [
                d.host_name.as_ref().map(|v| v.to_string()),
                d.fqdn.as_ref().map(|v| v.to_string()),
                d.mde_device_id.as_ref().map(|v| v.to_string()),
                d.cs_agent_id.as_ref().map(|v| v.to_string()),
                d.cloud_resource_id.as_ref().map(|v| v.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let status = match Policy::matches_any(&policy.exclusions.devices, &refs) {
                Some(g) => PlanStatus::Skipped(format!("excluded device (matches {g:?})")),
                None => PlanStatus::Planned,
            };
            let id = if let Some(v) = &d.mde_device_id {
                format!("mde:{v}")
            } else if let Some(v) = &d.cs_agent_id {
                format!("cs:{v}")
            } else if let Some(v) = d.fqdn.as_ref().or(d.host_name.as_ref()) {
                format!("host:{v}")
            } else {
                let msg = format!(
                    "{label} is a cloud instance with no EDR agent id; isolate it with a quarantine security group (a person must act)"
                );
                why.push(msg.clone());
                push(
                    &policy.actions.device,
                    target(TargetKind::Device, label.to_string()),
                    PlanStatus::Escalate(msg),
                );
                return;
            };
            push(
                &policy.actions.device,
                target(TargetKind::Device, id),
                status,
            );
        }
        EntityKind::Ip => {
            let Some(Entity::Ip { address }) = ms.first().map(|m| m.entity) else {
                return;
            };
            let attacker = ms.iter().any(|m| m.role == Role::Attacker);
            let status = if !attacker {
                PlanStatus::Skipped(
                    "IP was never named as the attacker's; compromised IPs are not blocked".into(),
                )
            } else if policy.ip_excluded(*address) || !is_public(*address) {
                PlanStatus::Skipped(format!("{address} is excluded or not a public address"))
            } else {
                PlanStatus::Planned
            };
            push(
                &policy.actions.ip,
                target(TargetKind::Ip, address.to_string()),
                status,
            );
        }
        EntityKind::AwsPrincipal => plan_aws(policy, ms, label, &mut push, why),
        EntityKind::OauthApp => {
            let app = ms.iter().find_map(|m| match m.entity {
                Entity::OauthApp(a) => Some(a),
                _ => None,
            });
            let Some(app) = app else { return };
            let id = app
                .service_principal_id
                .as_ref()
                .map(|v| format!("sp:{v}"))
                .or_else(|| app.app_id.as_ref().map(|v| format!("app:{v}")));
            let mut names: Vec<String> = vec![];
            names.extend(app.app_id.as_ref().map(|v| v.to_string()));
            names.extend(app.name.clone());
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let status = if let Some(g) = Policy::matches_any(&policy.own_principals, &refs) {
                PlanStatus::Skipped(format!("Cordon's own principal (matches {g:?})"))
            } else if let Some(g) = Policy::matches_any(&policy.exclusions.apps, &refs) {
                PlanStatus::Skipped(format!("excluded app (matches {g:?})"))
            } else {
                PlanStatus::Planned
            };
            match id {
                Some(id) => push(
                    &policy.actions.oauth_app,
                    target(TargetKind::OauthApp, id),
                    status,
                ),
                None => why.push(format!(
                    "{label} has no app or service principal id; a person must act."
                )),
            }
        }
        EntityKind::Context => {}
    }
}

fn plan_aws(
    policy: &Policy,
    ms: &[&Mention],
    label: &str,
    push: &mut impl FnMut(&[ActionKind], Target, PlanStatus),
    why: &mut Vec<String>,
) {
    let mut arn = None;
    let mut keys = BTreeSet::new();
    let mut account = None;
    for m in ms {
        if let Entity::AwsPrincipal(p) = m.entity {
            if arn.is_none() {
                arn = p.arn.clone();
            }
            if let Some(k) = &p.access_key_id {
                keys.insert(k.clone());
            }
            if account.is_none() {
                account = p.account.as_ref().map(|a| a.to_string());
            }
        }
    }
    let mut names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    if let Some(a) = &arn {
        names.push(a.arn.clone());
        names.extend(a.role_arn());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let skip = if let Some(g) = Policy::matches_any(&policy.own_principals, &refs) {
        Some(format!(
            "Cordon's own principal (matches {g:?}): never contained"
        ))
    } else {
        Policy::matches_any(&policy.exclusions.aws_principals, &refs)
            .map(|g| format!("excluded AWS principal (matches {g:?})"))
    };
    let status = || match &skip {
        Some(r) => PlanStatus::Skipped(r.clone()),
        None => PlanStatus::Planned,
    };
    let aws_target = |kind: TargetKind, id: String, owner: Option<String>| Target {
        kind,
        id,
        owner,
        account: account.clone(),
    };
    let deny: Vec<ActionKind> = policy
        .actions
        .aws_iam_user
        .iter()
        .copied()
        .filter(|k| *k == ActionKind::AttachAwsDenyPolicy)
        .collect();
    let deactivate = policy
        .actions
        .aws_iam_user
        .contains(&ActionKind::DeactivateAccessKey);
    // What a person must act on: the role behind a session, else the principal, else what we know.
    let escalation_target = arn
        .as_ref()
        .map(|a| a.role_arn().unwrap_or_else(|| a.arn.clone()))
        .unwrap_or_else(|| label.to_string());
    let escalate = |msg: String,
                    why: &mut Vec<String>,
                    push: &mut dyn FnMut(&[ActionKind], Target, PlanStatus)| {
        why.push(msg.clone());
        push(
            &[ActionKind::AttachAwsDenyPolicy],
            aws_target(TargetKind::AwsPrincipal, escalation_target.clone(), None),
            PlanStatus::Escalate(msg),
        );
    };
    match &arn {
        Some(a) => match a.kind {
            AwsPrincipalKind::IamUser => {
                push(&deny, aws_target(TargetKind::AwsPrincipal, a.arn.clone(), None), status());
                if deactivate {
                    for k in keys.iter().filter(|k| !k.is_temporary()) {
                        push(
                            &[ActionKind::DeactivateAccessKey],
                            aws_target(TargetKind::AwsAccessKey, k.to_string(), Some(a.name.clone())),
                            status(),
                        );
                    }
                }
            }
            AwsPrincipalKind::Role | AwsPrincipalKind::AssumedRoleSession => {
                let role = a.role_arn().unwrap_or_else(|| a.arn.clone());
                why.push(format!(
                    "Role {role}: deny-all with an aws:TokenIssueTime cut-off ends sessions already issued."
                ));
                push(&policy.actions.aws_role, aws_target(TargetKind::AwsPrincipal, role, None), status());
            }
            AwsPrincipalKind::SsoRole => escalate(
                format!("{} is an IAM Identity Center role: it cannot take inline policies; revoke the permission set assignment and the user's sessions in Identity Center (a person must act)", a.role_arn().unwrap_or_else(|| a.arn.clone())),
                why,
                push,
            ),
            AwsPrincipalKind::ServiceLinkedRole => escalate(
                format!("{} is a service-linked role: AWS does not allow changing it (a person must act)", a.arn),
                why,
                push,
            ),
            AwsPrincipalKind::Root => escalate(
                format!("root user of account {}: IAM policies cannot restrict root; rotate its credentials and apply an SCP (a person must act)", a.account),
                why,
                push,
            ),
            AwsPrincipalKind::FederatedUser => escalate(
                format!("{} is a federated user session: contain the identity-provider account that issued it (a person must act)", a.arn),
                why,
                push,
            ),
        },
        None => {
            // Only an access key is known; the responder looks up its owner.
            if deactivate {
                for k in keys.iter().filter(|k| !k.is_temporary()) {
                    push(&[ActionKind::DeactivateAccessKey], aws_target(TargetKind::AwsAccessKey, k.to_string(), None), status());
                }
            }
            if keys.iter().all(|k| k.is_temporary()) {
                escalate(format!("{label}: temporary credentials with no known principal (a person must act)"), why, push);
            }
        }
    }
}

fn target(kind: TargetKind, id: String) -> Target {
    Target {
        kind,
        id,
        owner: None,
        account: None,
    }
}

fn merge_users(ms: &[&Mention]) -> UserEntity {
    let mut u = UserEntity::default();
    for m in ms {
        if let Entity::User(x) = m.entity {
            u.upn = u.upn.take().or_else(|| x.upn.clone());
            u.object_id = u.object_id.take().or_else(|| x.object_id.clone());
            u.ad_object_guid = u.ad_object_guid.take().or_else(|| x.ad_object_guid.clone());
            u.sid = u.sid.take().or_else(|| x.sid.clone());
            u.sam = u.sam.take().or_else(|| x.sam.clone());
            u.okta_id = u.okta_id.take().or_else(|| x.okta_id.clone());
            u.email = u.email.take().or_else(|| x.email.clone());
            u.name = u.name.take().or_else(|| x.name.clone());
        }
    }
    u
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.octets()[0] == 100 && (v.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v) => {
            !(v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xfe00) == 0xfc00)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{AwsPrincipalEntity, DeviceEntity};
    use crate::ids::*;
    use crate::policy::DEFAULT_POLICY;
    use chrono::TimeZone;

    fn policy() -> Policy {
        Policy::from_toml(DEFAULT_POLICY).unwrap()
    }

    fn base(source: Source, id: &str, detector: &str, alert_type: &str, title: &str) -> Alert {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single();
        Alert {
            source,
            source_id: id.into(),
            source_updated: t,
            detector_id: format!("{source}:{detector}"),
            detector_name: detector.into(),
            alert_type: alert_type.into(),
            title: title.into(),
            severity: Severity::High,
            tactics: vec![],
            techniques: vec![],
            first_activity: t,
            last_activity: t,
            entities: vec![],
            coverage: Coverage::Complete,
            tenant: None,
            parent_incident: None,
        }
    }

    fn user(upn: &str) -> Entity {
        Entity::User(UserEntity {
            upn: Upn::parse(upn).ok(),
            ..Default::default()
        })
    }

    #[test]
    fn phishing_recipient_is_never_an_attacker_asset() {
        // ../shared/cases C4: even when the source claims "compromised" and the detector is
        // near-perfect, a mail-borne alert's account is the recipient.
        let mut p = policy();
        p.detectors.insert(
            0,
            crate::policy::DetectorPrior {
                pattern: "*".into(),
                precision: 0.9999,
                weight: 1e6,
                note: None,
            },
        );
        let mut a = base(
            Source::GraphSecurity,
            "p1",
            "Phish",
            "ThreatManagement-Phish",
            "Phishing email delivered",
        );
        a.entities.push(AlertEntity::stated(
            user("bob@contoso.com"),
            Role::Compromised,
        ));
        a.entities
            .push(AlertEntity::unstated(user("carol@contoso.com")));
        let inc = decide(&p, "inc-1", &[&a]);
        assert!(inc.planned_actions.is_empty(), "{:#?}", inc.planned_actions);
        assert!(inc
            .assets
            .iter()
            .all(|x| !x.contain && x.roles == vec![Role::Victim]));
    }

    #[test]
    fn unknown_alert_type_never_contains() {
        let mut a = base(
            Source::Sentinel,
            "u1",
            "rule-x",
            "SomethingNew",
            "Weird thing",
        );
        a.entities
            .push(AlertEntity::unstated(user("dave@contoso.com")));
        let inc = decide(&policy(), "inc-2", &[&a]);
        assert!(inc.planned_actions.is_empty());
        assert_eq!(inc.assets[0].roles, vec![Role::Related]);
        assert_eq!(inc.assets[0].confidence, 0.0);
    }

    #[test]
    fn independent_sources_corroborate_one_alone_does_not() {
        let p = policy();
        let mut a = base(
            Source::Okta,
            "o1",
            "security.session.detect_client_roaming",
            "security.session.detect_client_roaming",
            "Session roaming",
        );
        a.entities
            .push(AlertEntity::unstated(Entity::User(UserEntity {
                email: Upn::parse("alice@contoso.com").ok(),
                okta_id: OktaId::parse("00u1abcdefghijklmno").ok(),
                directory: Some(Directory::Okta),
                ..Default::default()
            })));
        let alone = decide(&p, "inc-3", &[&a]);
        assert!(!alone.assets[0].contain, "{}", alone.assets[0].explanation);

        let mut b = base(
            Source::GraphSecurity,
            "g1",
            "TokenTheft",
            "TokenTheft",
            "Anomalous token",
        );
        b.entities.push(AlertEntity::stated(
            Entity::User(UserEntity {
                upn: Upn::parse("Alice@contoso.com").ok(),
                object_id: ObjectId::parse("011d5ede-0faa-4946-a25e-b2cd0c47a52c").ok(),
                ..Default::default()
            }),
            Role::Compromised,
        ));
        let both = decide(&p, "inc-3", &[&a, &b]);
        let alice = &both.assets[0];
        assert!(alice.contain, "{}", alice.explanation);
        assert!(alice.confidence >= 0.99);
        assert!(
            alice.explanation.contains("independent"),
            "{}",
            alice.explanation
        );
        let kinds: BTreeSet<(ActionKind, String)> = both
            .planned_actions
            .iter()
            .map(|a| (a.kind, a.target.id.clone()))
            .collect();
        assert!(kinds.contains(&(
            ActionKind::DisableUser,
            "011d5ede-0faa-4946-a25e-b2cd0c47a52c".into()
        )));
        assert!(kinds.contains(&(
            ActionKind::RevokeSessions,
            "011d5ede-0faa-4946-a25e-b2cd0c47a52c".into()
        )));
        assert!(kinds.contains(&(ActionKind::SuspendOktaUser, "00u1abcdefghijklmno".into())));
        assert!(kinds.contains(&(ActionKind::ClearOktaSessions, "00u1abcdefghijklmno".into())));
        assert!(both.planned_actions.iter().all(|a| a.mode == Mode::Audit));
    }

    #[test]
    fn aws_principals_are_classified_before_acting() {
        let p = policy();
        let gd = |id: &str, arn: &str| {
            let mut a = base(
                Source::GuardDuty,
                id,
                "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
                "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
                "Credentials exfiltrated",
            );
            let mut e = AwsPrincipalEntity::from_arn(AwsArn::parse(arn).unwrap());
            e.access_key_id = AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").ok();
            a.entities.push(AlertEntity::stated(
                Entity::AwsPrincipal(e),
                Role::Compromised,
            ));
            a
        };
        let role = gd(
            "r",
            "arn:aws:sts::111122223333:assumed-role/ci-deploy/i-0abc",
        );
        let inc = decide(&p, "inc-r", &[&role]);
        assert_eq!(inc.planned_actions.len(), 1, "{:#?}", inc.planned_actions);
        assert_eq!(
            inc.planned_actions[0].target.id,
            "arn:aws:iam::111122223333:role/ci-deploy"
        );
        assert_eq!(inc.planned_actions[0].kind, ActionKind::AttachAwsDenyPolicy);

        let user = gd("u", "arn:aws:iam::111122223333:user/svc-reporting");
        let inc = decide(&p, "inc-u", &[&user]);
        let kinds: Vec<ActionKind> = inc.planned_actions.iter().map(|a| a.kind).collect();
        assert_eq!(kinds.len(), 2);
        assert!(kinds.contains(&ActionKind::DeactivateAccessKey));
        let key = inc
            .planned_actions
            .iter()
            .find(|a| a.kind == ActionKind::DeactivateAccessKey)
            .unwrap();
        assert_eq!(key.target.owner.as_deref(), Some("svc-reporting"));

        for (arn, word) in [
            ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/alice@contoso.com", "Identity Center"),
            ("arn:aws:iam::111122223333:root", "root"),
            ("arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX", "service-linked"),
        ] {
            let a = gd("x", arn);
            let inc = decide(&p, "inc-x", &[&a]);
            assert!(inc.planned_actions.iter().all(|a| matches!(&a.status, PlanStatus::Escalate(m) if m.contains(word))), "{arn}: {:#?}", inc.planned_actions);
        }
        // Cordon never contains itself.
        let own = gd(
            "o",
            "arn:aws:sts::111122223333:assumed-role/cordon-responder/lambda",
        );
        let inc = decide(&p, "inc-o", &[&own]);
        assert!(inc
            .planned_actions
            .iter()
            .all(|a| matches!(a.status, PlanStatus::Skipped(_))));
    }

    #[test]
    fn a_contained_persons_aws_session_inherits_and_is_escalated_or_denied() {
        let p = policy();
        let person = |src: Source, id: &str| {
            let mut a = base(src, id, "TokenTheft", "TokenTheft", "Token theft");
            a.entities.push(AlertEntity::stated(
                user("alice@contoso.com"),
                Role::Compromised,
            ));
            a
        };
        let (g, x) = (
            person(Source::GraphSecurity, "g"),
            person(Source::DefenderXdr, "x"),
        );
        for (arn, escalated) in [
            ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/alice@contoso.com", true),
            ("arn:aws:sts::111122223333:assumed-role/engineer/alice@contoso.com", false),
        ] {
            // One weak finding on the session alone would not do.
            let mut gd = base(Source::GuardDuty, "s", "Discovery:IAMUser/AnomalousBehavior", "Discovery:IAMUser/AnomalousBehavior", "Recon");
            gd.entities.push(AlertEntity::stated(
                Entity::AwsPrincipal(AwsPrincipalEntity::from_arn(AwsArn::parse(arn).unwrap())),
                Role::Compromised,
            ));
            let alone = decide(&p, "inc-s", &[&gd]);
            assert!(alone.planned_actions.is_empty(), "{arn}");
            let inc = decide(&p, "inc-s", &[&g, &x, &gd]);
            let session = inc.assets.iter().find(|a| a.kind == EntityKind::AwsPrincipal).unwrap();
            assert!(session.contain, "{}", session.explanation);
            assert!(session.explanation.contains("session of alice@contoso.com"), "{}", session.explanation);
            let aws: Vec<&PlannedAction> =
                inc.planned_actions.iter().filter(|a| a.target.kind == TargetKind::AwsPrincipal).collect();
            assert_eq!(aws.len(), 1);
            let role = AwsArn::parse(arn).unwrap().role_arn().unwrap();
            assert_eq!(aws[0].target.id, role);
            assert_eq!(matches!(aws[0].status, PlanStatus::Escalate(_)), escalated, "{:?}", aws[0].status);
        }
        // Disable before revoking, in the policy's order.
        let inc = decide(&p, "inc-o", &[&g, &x]);
        let kinds: Vec<ActionKind> = inc.planned_actions.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![ActionKind::DisableUser, ActionKind::RevokeSessions]
        );
    }

    #[test]
    fn unresolved_account_is_flagged_not_acted_on() {
        // ../shared/cases C1: a bare name with no suffix, id or SID.
        let mut a = base(
            Source::DefenderEndpoint,
            "d1",
            "x",
            "x",
            "Ransomware behaviour",
        );
        a.entities.push(AlertEntity::stated(
            Entity::User(UserEntity {
                name: Some("jdoe".into()),
                ..Default::default()
            }),
            Role::Compromised,
        ));
        a.entities.push(AlertEntity::stated(
            Entity::Device(DeviceEntity {
                host_name: HostName::parse("ws-17").ok(),
                ..Default::default()
            }),
            Role::Compromised,
        ));
        let mut b = a.clone();
        b.source = Source::DefenderXdr;
        b.source_id = "x1".into();
        b.detector_id = "defender_xdr:ransomware".into();
        let inc = decide(&policy(), "inc-c1", &[&a, &b]);
        assert!(
            inc.notes.iter().any(|n| n.contains("unresolved")),
            "{:?}",
            inc.notes
        );
        assert!(inc
            .planned_actions
            .iter()
            .all(|a| a.target.kind == TargetKind::Device));
        assert_eq!(inc.planned_actions[0].target.id, "host:ws-17");
    }

    #[test]
    fn exclusions_and_break_glass_are_skipped_not_dropped() {
        let mut p = policy();
        p.exclusions.users.push("ceo@contoso.com".into());
        let mk = |src: Source, upn: &str| {
            let mut a = base(
                src,
                &format!("{src}-{upn}"),
                "TokenTheft",
                "TokenTheft",
                "Token theft",
            );
            a.entities
                .push(AlertEntity::stated(user(upn), Role::Compromised));
            a
        };
        for upn in ["ceo@contoso.com", "breakglass01@contoso.com"] {
            let (a, b) = (mk(Source::GraphSecurity, upn), mk(Source::DefenderXdr, upn));
            let inc = decide(&p, "inc-e", &[&a, &b]);
            assert!(!inc.planned_actions.is_empty());
            assert!(
                inc.planned_actions
                    .iter()
                    .all(|a| matches!(a.status, PlanStatus::Skipped(_))),
                "{upn}"
            );
        }
    }

    #[test]
    fn blast_radius_trips_to_audit() {
        let mut p = policy();
        p.max_actions_per_incident = 3;
        let mut a = base(
            Source::GraphSecurity,
            "g",
            "TokenTheft",
            "TokenTheft",
            "Token theft",
        );
        let mut b = base(
            Source::DefenderXdr,
            "s",
            "TokenTheft",
            "TokenTheft",
            "Token theft",
        );
        for i in 0..3 {
            let u = user(&format!("u{i}@contoso.com"));
            a.entities
                .push(AlertEntity::stated(u.clone(), Role::Compromised));
            b.entities.push(AlertEntity::stated(u, Role::Compromised));
        }
        let inc = decide(&p, "inc-b", &[&a, &b]);
        assert_eq!(inc.planned_actions.len(), 6);
        assert!(inc
            .planned_actions
            .iter()
            .all(|a| matches!(&a.status, PlanStatus::Skipped(r) if r.contains("blast"))));
        assert!(inc.notes.iter().any(|n| n.contains("blast")));
    }

    #[test]
    fn partial_incidents_say_so() {
        let mut a = base(
            Source::Sentinel,
            "f",
            "Fusion",
            "Fusion",
            "Multistage attack",
        );
        a.coverage = Coverage::Missing;
        let inc = decide(&policy(), "inc-p", &[&a]);
        assert!(inc.partial);
        assert!(inc.notes[0].contains("before concluding there is nothing to contain"));
    }
}
