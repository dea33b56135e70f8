//! Correlation: alerts that share a strong entity within a time window belong to one incident.
//!
//! Two alert versions are *linked* when they share a strong key (user, device, AWS principal,
//! OAuth app; see [`crate::entity::Entity::keys`]) and their times are at most `window` apart;
//! versions of one alert (same source and source id) are always linked. An incident is a
//! connected component of that graph. The graph depends only on the set of alerts, so the
//! incidents do not depend on the order alerts arrive in, and a duplicate (same dedup key) is
//! dropped before it can change anything (`../shared/cases` C6).
//!
//! For one key, versions sorted by time are linked exactly when consecutive gaps are within the
//! window, so each insert only links to its nearest neighbour on each side: O(log n) per key,
//! flat as open incidents grow. IPs are weak keys and never link alerts on their own.

use crate::alert::{Alert, AlertIdentity};
use crate::entity::Strength;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// What adding an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// This exact version was already there: nothing changed.
    Duplicate,
    /// Added; the incident it now belongs to is identified by this root.
    Into(Root),
}

/// An opaque handle on a current incident (valid until the next `add`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Root(u32);

#[derive(Default)]
struct KeyIndex {
    timed: BTreeSet<(i64, u32)>,
    /// A version without a time links to every version with the key; once there is one, every
    /// version with the key joins it.
    anchor: Option<u32>,
}

/// The incremental correlator. Holds every alert version it was given.
pub struct Correlator {
    window: i64,
    alerts: Vec<Alert>,
    parent: Vec<u32>,
    members: FastMap<u32, Vec<u32>>,
    by_dedup: FastMap<[u8; 16], u32>,
    by_identity: FastMap<AlertIdentity, u32>,
    keys: FastMap<String, KeyIndex>,
}

impl Correlator {
    /// A correlator with a window of `window_secs` seconds.
    pub fn new(window_secs: i64) -> Self {
        Self {
            window: window_secs.max(0),
            alerts: Vec::new(),
            parent: Vec::new(),
            members: FastMap::default(),
            by_dedup: FastMap::default(),
            by_identity: FastMap::default(),
            keys: FastMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Adds one alert version and links it.
    pub fn add(&mut self, alert: Alert) -> Added {
        let dedup = alert.dedup_digest();
        if self.by_dedup.contains_key(&dedup) {
            return Added::Duplicate;
        }
        let idx = self.alerts.len() as u32;
        let time = alert.time().map(|t| t.timestamp());
        let identity = alert.identity();
        let mut strong_keys: Vec<String> = Vec::new();
        for e in &alert.entities {
            e.entity.keys(|k, s| {
                if s == Strength::Strong && !strong_keys.contains(&k) {
                    strong_keys.push(k);
                }
            });
        }
        self.alerts.push(alert);
        self.parent.push(idx);
        self.members.insert(idx, vec![idx]);
        self.by_dedup.insert(dedup, idx);
        match self.by_identity.get(&identity) {
            Some(&first) => self.union(first, idx),
            None => {
                self.by_identity.insert(identity, idx);
            }
        }
        for key in strong_keys {
            self.link_key(key, idx, time);
        }
        Added::Into(Root(self.find(idx)))
    }

    fn link_key(&mut self, key: String, idx: u32, time: Option<i64>) {
        let window = self.window;
        let index = self.keys.entry(key).or_default();
        let mut to_union: Vec<u32> = Vec::new();
        match time {
            Some(t) => {
                if let Some(&(pt, p)) = index.timed.range(..(t, idx)).next_back() {
                    if t - pt <= window {
                        to_union.push(p);
                    }
                }
                if let Some(&(st, s)) = index.timed.range((t, idx)..).next() {
                    if st - t <= window {
                        to_union.push(s);
                    }
                }
                if let Some(a) = index.anchor {
                    to_union.push(a);
                }
                index.timed.insert((t, idx));
            }
            None => match index.anchor {
                Some(a) => to_union.push(a),
                None => {
                    index.anchor = Some(idx);
                    to_union.extend(index.timed.iter().map(|&(_, i)| i));
                }
            },
        }
        for other in to_union {
            self.union(idx, other);
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let la = self.members.get(&ra).map_or(0, Vec::len);
        let lb = self.members.get(&rb).map_or(0, Vec::len);
        let (big, small) = if la >= lb { (ra, rb) } else { (rb, ra) };
        self.parent[small as usize] = big;
        let moved = self.members.remove(&small).unwrap_or_default();
        self.members.entry(big).or_default().extend(moved);
    }

    /// The current incident an added alert belongs to.
    pub fn root_of(&mut self, identity: &AlertIdentity) -> Option<Root> {
        let idx = *self.by_identity.get(identity)?;
        Some(Root(self.find(idx)))
    }

    /// The latest version of each alert in one incident, in a canonical order.
    pub fn incident_alerts(&self, root: Root) -> Vec<&Alert> {
        let Some(members) = self.members.get(&root.0) else {
            return Vec::new();
        };
        latest_versions(members.iter().map(|&i| &self.alerts[i as usize]))
    }

    /// Every current incident: its id and the latest version of each of its alerts.
    pub fn incidents(&self) -> Vec<(String, Vec<&Alert>)> {
        let mut out: Vec<(String, Vec<&Alert>)> = self
            .members
            .values()
            .map(|m| {
                let alerts = latest_versions(m.iter().map(|&i| &self.alerts[i as usize]));
                (incident_id(&alerts), alerts)
            })
            .collect();
        out.sort_by(|a, b| {
            let ta = a.1.iter().filter_map(|x| x.time()).min();
            let tb = b.1.iter().filter_map(|x| x.time()).min();
            ta.cmp(&tb).then_with(|| a.0.cmp(&b.0))
        });
        out
    }

    /// Number of current incidents.
    pub fn incident_count(&self) -> usize {
        self.members.len()
    }
}

/// Keeps the latest version of each alert (latest source update time; ties broken by dedup key
/// so the choice does not depend on arrival order), sorted by time then identity.
fn latest_versions<'a>(alerts: impl Iterator<Item = &'a Alert>) -> Vec<&'a Alert> {
    let mut best: HashMap<AlertIdentity, &'a Alert> = HashMap::new();
    for a in alerts {
        let id = a.identity();
        match best.get(&id) {
            Some(cur)
                if (cur.source_updated, cur.dedup_digest())
                    >= (a.source_updated, a.dedup_digest()) => {}
            _ => {
                best.insert(id, a);
            }
        }
    }
    let mut v: Vec<&Alert> = best.into_values().collect();
    v.sort_by(|a, b| {
        a.time()
            .cmp(&b.time())
            .then_with(|| a.identity().cmp(&b.identity()))
    });
    v
}

/// A deterministic incident id: derived from the earliest alert (by time, then identity), so the
/// same alerts give the same id whatever order they came in.
pub fn incident_id(alerts: &[&Alert]) -> String {
    let first = alerts.iter().min_by(|a, b| {
        a.time()
            .cmp(&b.time())
            .then_with(|| a.identity().cmp(&b.identity()))
    });
    let mut h = Sha256::new();
    if let Some(a) = first {
        h.update(a.identity().to_string().as_bytes());
    }
    format!("inc-{}", &hex::encode(h.finalize())[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Coverage, Severity, Source};
    use crate::entity::{AlertEntity, Entity, UserEntity};
    use crate::ids::Upn;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn alert(source: Source, id: &str, hour: i64, users: &[&str], ips: &[&str]) -> Alert {
        let mut entities: Vec<AlertEntity> = users
            .iter()
            .map(|u| {
                AlertEntity::unstated(Entity::User(UserEntity {
                    upn: Upn::parse(u).ok(),
                    ..Default::default()
                }))
            })
            .collect();
        entities.extend(ips.iter().map(|ip| {
            AlertEntity::unstated(Entity::Ip {
                address: ip.parse().unwrap(),
            })
        }));
        let t = Utc.timestamp_opt(1_700_000_000 + hour * 3600, 0).single();
        Alert {
            source,
            source_id: id.to_string(),
            source_updated: t,
            detector_id: format!("{source}:test"),
            detector_name: "test".into(),
            alert_type: "test".into(),
            title: id.to_string(),
            severity: Severity::High,
            tactics: vec![],
            techniques: vec![],
            first_activity: t,
            last_activity: t,
            entities,
            coverage: Coverage::Complete,
            tenant: None,
            parent_incident: None,
        }
    }

    fn partition(alerts: Vec<Alert>, window: i64) -> Vec<Vec<String>> {
        let mut c = Correlator::new(window);
        for a in alerts {
            c.add(a);
        }
        let mut p: Vec<Vec<String>> = c
            .incidents()
            .into_iter()
            .map(|(_, v)| {
                let mut ids: Vec<String> = v.iter().map(|a| a.identity().to_string()).collect();
                ids.sort();
                ids
            })
            .collect();
        p.sort();
        p
    }

    #[test]
    fn shared_user_links_across_sources_ip_alone_does_not() {
        let a = alert(Source::Okta, "o1", 0, &["alice@corp.com"], &["203.0.113.9"]);
        let b = alert(Source::Sentinel, "s1", 2, &["ALICE@corp.com"], &[]);
        let c = alert(Source::GuardDuty, "g1", 3, &[], &["203.0.113.9"]);
        let p = partition(vec![a, b, c], 24 * 3600);
        assert_eq!(
            p,
            vec![
                vec!["guardduty:g1".to_string()],
                vec!["okta:o1".into(), "sentinel:s1".into()]
            ]
        );
    }

    #[test]
    fn window_separates_and_a_bridge_joins() {
        let a = alert(Source::Okta, "a", 0, &["bob@corp.com"], &[]);
        let c = alert(Source::Okta, "c", 40, &["bob@corp.com"], &[]);
        assert_eq!(partition(vec![a.clone(), c.clone()], 24 * 3600).len(), 2);
        let b = alert(Source::Okta, "b", 20, &["bob@corp.com"], &[]);
        assert_eq!(partition(vec![a, c, b], 24 * 3600).len(), 1);
    }

    #[test]
    fn duplicate_changes_nothing() {
        let a = alert(Source::Okta, "a", 0, &["bob@corp.com"], &[]);
        let mut c = Correlator::new(3600);
        assert!(matches!(c.add(a.clone()), Added::Into(_)));
        assert_eq!(c.add(a), Added::Duplicate);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_newer_version_replaces_the_older_in_the_incident() {
        let a = alert(Source::Okta, "a", 0, &["bob@corp.com"], &[]);
        let mut a2 = a.clone();
        a2.source_updated = a.source_updated.map(|t| t + chrono::Duration::hours(1));
        a2.title = "updated".into();
        let mut c = Correlator::new(3600);
        c.add(a2);
        c.add(a);
        let inc = c.incidents();
        assert_eq!(inc.len(), 1);
        assert_eq!(inc[0].1.len(), 1);
        assert_eq!(inc[0].1[0].title, "updated");
    }

    proptest! {
        /// The incidents (their membership and ids) do not depend on arrival order, and
        /// duplicate deliveries change nothing.
        #[test]
        fn order_and_duplicates_do_not_matter(
            specs in proptest::collection::vec((0u8..4, 0u8..6, 0i64..96, 0u8..3), 1..40),
            seed in any::<u64>(),
            window_h in 1i64..30,
        ) {
            let users = ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"];
            let sources = [Source::Okta, Source::Sentinel, Source::GuardDuty, Source::GraphSecurity];
            let alerts: Vec<Alert> = specs.iter().enumerate().map(|(i, (s, u, h, extra))| {
                let mut us = vec![users[*u as usize]];
                if *extra == 1 { us.push(users[(*u as usize + 1) % users.len()]); }
                alert(sources[*s as usize], &format!("id{i}"), *h, &us, &["198.51.100.1"])
            }).collect();
            let baseline = partition(alerts.clone(), window_h * 3600);
            let mut shuffled = alerts.clone();
            // Deterministic shuffle from the seed, plus duplicate deliveries.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let dupes: Vec<Alert> = shuffled.iter().step_by(3).cloned().collect();
            shuffled.extend(dupes);
            prop_assert_eq!(&baseline, &partition(shuffled.clone(), window_h * 3600));

            let ids = |v: Vec<Alert>| {
                let mut c = Correlator::new(window_h * 3600);
                for a in v { c.add(a); }
                let mut ids: Vec<String> = c.incidents().into_iter().map(|(id, _)| id).collect();
                ids.sort();
                ids
            };
            prop_assert_eq!(ids(alerts), ids(shuffled));
        }
    }
}
