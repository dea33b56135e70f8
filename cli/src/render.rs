//! The human-readable replay summary.

use crate::replay::Report;
use cordon_core::action::{Mode, PlanStatus, Reversal};
use cordon_core::decide::Incident;
use std::fmt::Write;

fn pct(x: f64) -> String {
    let s = format!("{:.2}", x * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "(no time)".into())
}

pub fn human(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Replayed {} file(s), {} record(s): {} alert(s) parsed ({} new, {} duplicate), {} quarantined.",
        r.files,
        r.records,
        r.alerts_parsed,
        r.alerts_stored,
        r.duplicates,
        r.quarantined.len()
    );
    let _ = writeln!(
        s,
        "Policy: mode {}, containment threshold {}. {} incident(s); {} new planned action(s).",
        match r.mode {
            Mode::Audit => "AUDIT (decide and log, act on nothing)",
            Mode::Enforce => "ENFORCE",
        },
        pct(r.threshold),
        r.incidents.len(),
        r.actions_planned
    );
    for inc in &r.incidents {
        incident(&mut s, inc);
    }
    if !r.executed.is_empty() {
        let _ = writeln!(
            s,
            "\nExecuted ({}), as the ledger records them:",
            r.executed.len()
        );
        for l in &r.executed {
            let _ = writeln!(
                s,
                "  {} {:<13} {:<22} {}{}",
                l.id,
                format!("{:?}", l.status).to_lowercase(),
                l.kind,
                l.target,
                if l.detail.is_empty() {
                    String::new()
                } else {
                    format!("  — {}", l.detail)
                }
            );
        }
    }
    if !r.quarantined.is_empty() {
        let _ = writeln!(
            s,
            "\nQuarantined ({}), kept with the reason:",
            r.quarantined.len()
        );
        for q in &r.quarantined {
            let _ = match &q.record {
                Some(rec) => writeln!(s, "  {} [{}]: {}", q.file, rec, q.reason),
                None => writeln!(s, "  {}: {}", q.file, q.reason),
            };
        }
    }
    s
}

fn incident(s: &mut String, inc: &Incident) {
    let sources: Vec<&str> = inc.sources.iter().map(|x| x.as_str()).collect();
    let _ = writeln!(
        s,
        "\n== Incident {} — {} ({})",
        inc.id,
        inc.title,
        inc.severity.as_str()
    );
    let _ = writeln!(
        s,
        "   {} alert(s) from {}, {} → {}; highest asset confidence {}{}",
        inc.alerts.len(),
        sources.join(", "),
        time(inc.first_activity),
        time(inc.last_activity),
        pct(inc.confidence),
        if inc.partial {
            "; PARTIAL entity data"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "   Alerts:");
    for a in &inc.alerts {
        let _ = writeln!(
            s,
            "     {}  {:<14} {:<8} {}  [{}]",
            time(a.time),
            a.identity.source.as_str(),
            a.severity.as_str(),
            a.title,
            a.detector_id
        );
    }
    let _ = writeln!(s, "   Entities:");
    for e in &inc.entities {
        let roles: Vec<&str> = e.roles.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            s,
            "     {:<13} {}  ({})",
            e.kind.as_str(),
            e.label,
            roles.join(", ")
        );
    }
    let judged: Vec<_> = inc
        .assets
        .iter()
        .filter(|a| !a.evidence.is_empty())
        .collect();
    if !judged.is_empty() {
        let _ = writeln!(s, "   Decision:");
        for a in judged {
            let _ = writeln!(
                s,
                "     {} {} — confidence {} → {}",
                a.kind.as_str(),
                a.label,
                pct(a.confidence),
                if a.contain {
                    "CONTAIN"
                } else {
                    "no containment"
                }
            );
            let _ = writeln!(s, "       {}", a.explanation);
        }
    }
    if inc.planned_actions.is_empty() {
        let _ = writeln!(s, "   Planned actions: none.");
    } else {
        let _ = writeln!(s, "   Planned actions:");
        for p in &inc.planned_actions {
            let status = match &p.status {
                PlanStatus::Planned => match p.mode {
                    Mode::Audit => "audit: logged, not executed".to_string(),
                    Mode::Enforce => "enforce: will execute".to_string(),
                },
                PlanStatus::Skipped(r) => format!("skipped: {r}"),
                PlanStatus::Escalate(r) => format!("needs a person: {r}"),
            };
            // The reversal matters only for what may run.
            let undo = match (&p.status, &p.reversal) {
                (PlanStatus::Planned, Reversal::Inverse(k)) => format!("; undo: {k}"),
                (PlanStatus::Planned, Reversal::NotNeeded(why)) => {
                    format!("; undo: none needed ({why})")
                }
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "     {} {:<22} {}  [{}{}]",
                p.id,
                p.kind.as_str(),
                p.target,
                status,
                undo
            );
        }
    }
    for n in &inc.notes {
        let _ = writeln!(s, "   Note: {n}");
    }
}
