//! The typed fast path gives exactly what the `serde_json::Value` path gives, or declines: over
//! every corpus file, fixture and example, all 10,000 records of the shared bench file, and
//! mutated variants of the shapes it takes (fields dropped, retyped, renamed in another case,
//! added, repeated, strings escaped or given unicode).

mod common;
use common::*;
use cordon_siem::{parse_bytes, parse_bytes_via_value, parse_record_fast, parse_value, Parsed};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/alerts");
const BENCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/bench/mixed-guardduty-okta-10k.ndjson"
);

/// The `Value` path's outcome for one record's text (what the fast path must equal).
fn via_value(text: &str) -> Vec<Parsed> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => parse_value(&v),
        Err(e) => panic!("not JSON: {e}"),
    }
}

/// Asserts that the fast path, where it takes `text`, agrees with the `Value` path; returns
/// whether it took it.
fn check_record(text: &str, what: &str) -> bool {
    let Some(fast) = parse_record_fast(text) else {
        return false;
    };
    assert_eq!(via_value(text), [fast], "{what}");
    true
}

/// Both whole pipelines agree on `bytes`.
fn check_bytes(bytes: &[u8], what: &str) {
    assert_eq!(
        parse_bytes(bytes),
        parse_bytes_via_value(bytes),
        "{what}: parse_bytes differs from the Value path"
    );
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(Path::new(dir), &mut out);
    out.sort();
    out
}

#[test]
fn corpus_fixtures_and_examples_agree() {
    let mut fast = Vec::new();
    for f in [files(CORPUS), files(FIXTURES), files(EXAMPLES)].concat() {
        let bytes = std::fs::read(&f).unwrap_or_default();
        let what = f.display().to_string();
        check_bytes(&bytes, &what);
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_start_matches('\u{feff}').trim();
        if serde_json::from_str::<Value>(text).is_ok() && check_record(text, &what) {
            fast.push(what);
        } else {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.starts_with('{') && serde_json::from_str::<Value>(line).is_ok() {
                    check_record(line, &format!("{what} line {}", i + 1));
                }
            }
        }
    }
    // The fast path must actually be exercised: the camelCase GuardDuty findings, the Okta
    // events with a uuid and hook deliveries, the Sentinel incident triggers and SecurityAlert
    // rows, and the Graph security alerts v2 among them.
    // (PascalCase findings and lower-cased Okta keys are left to the `Value` path.)
    let taken = |needle: &str| fast.iter().filter(|f| f.contains(needle)).count();
    assert!(taken("corpus/guardduty/") >= 4, "{fast:#?}");
    assert!(taken("corpus/okta/") >= 6, "{fast:#?}");
    assert!(taken("sentinel_trigger_incident") == 1, "{fast:#?}");
    assert!(
        taken("corpus/sentinel/stixshifter_securityalert-row") == 1,
        "{fast:#?}"
    );
    assert!(
        taken("sentinel_securityalert_row_scheduled") == 1,
        "{fast:#?}"
    );
    assert!(
        taken("corpus/graph_defender/panther_graph-alertv2") == 2,
        "{fast:#?}"
    );
    assert!(taken("graph_alert_v2_roles") == 1, "{fast:#?}");
    assert!(taken("04-graph-alert-mde-laptop") == 1, "{fast:#?}");
    assert!(taken("examples/alerts/") >= 6, "{fast:#?}");
}

#[test]
fn every_bench_record_takes_the_fast_path_and_agrees() {
    let bytes = std::fs::read(BENCH).expect("the shared bench file");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        assert!(
            check_record(line, &format!("bench line {}", i + 1)),
            "bench line {} declined",
            i + 1
        );
        n += 1;
    }
    assert_eq!(n, 10_000);
    // And the NDJSON framing around it: the first 200 lines as one payload.
    let head: String = text.lines().take(200).map(|l| format!("{l}\n")).collect();
    check_bytes(head.as_bytes(), "bench head");
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// The payloads the fast path takes, to mutate.
fn seeds() -> Vec<Value> {
    let mut out: Vec<Value> = [
        "guardduty/custodian_iam-duty-event.json",
        "guardduty/custodian_ec2-duty-event.json",
        "guardduty/panther_gd-privesc-iamuser-adminperms.json",
        "guardduty/panther_gd-medium.json",
        "okta/oktadocs_event-hook-delivery-user.session.start.json",
        "okta/panther_okta-session.start-stolen-session.json",
        "okta/oktadocs_systemlog-user.lifecycle.deactivate.json",
        "graph_defender/panther_graph-alertv2-anonymous-ip.json",
        "graph_defender/panther_graph-alertv2-password-spray.json",
        "sentinel/stixshifter_securityalert-row-asc-sample-cryptomining.json",
    ]
    .iter()
    .map(|f| serde_json::from_slice(&corpus(f)).expect("seed"))
    .collect();
    for f in [
        "sentinel_trigger_incident.json",
        "guardduty_iam_user_key.json",
        "graph_alert_v2_roles.json",
        "sentinel_securityalert_row_scheduled.json",
    ] {
        out.push(serde_json::from_slice(&fixture(f)).expect("seed"));
    }
    // The SecurityAlert row with its JSON string columns expanded, so that mutations reach
    // inside the entity graph.
    let mut row: Value =
        serde_json::from_slice(&fixture("sentinel_securityalert_row_scheduled.json"))
            .expect("seed");
    for column in ["Entities", "ExtendedProperties"] {
        let text = row[column]
            .as_str()
            .expect("a JSON string column")
            .to_string();
        row[column] = serde_json::from_str(&text).expect("JSON");
    }
    out.push(row);
    for f in [
        "03-sentinel-incident-token-theft.json",
        "05-guardduty-sso-session.json",
        "04-graph-alert-mde-laptop.json",
    ] {
        let bytes = std::fs::read(Path::new(EXAMPLES).join(f)).expect("example");
        out.push(serde_json::from_slice(&bytes).expect("seed"));
    }
    let bench = std::fs::read_to_string(BENCH).expect("bench");
    for line in bench.lines().take(2) {
        out.push(serde_json::from_str(line).expect("seed"));
    }
    for v in &out {
        let text = v.to_string();
        assert!(parse_record_fast(&text).is_some(), "seed declined: {text}");
    }
    out
}

/// A small deterministic generator, seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every container node's path (object keys and array indices) in `v`.
fn containers(v: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(o) => {
            out.push(path.clone());
            for (k, x) in o {
                path.push(Step::Key(k.clone()));
                containers(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            out.push(path.clone());
            for (i, x) in a.iter().enumerate() {
                path.push(Step::Index(i));
                containers(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |cur, s| match (s, cur) {
        (Step::Key(k), Value::Object(o)) => o.get_mut(k).expect("path"),
        (Step::Index(i), Value::Array(a)) => &mut a[*i],
        _ => unreachable!("paths come from the same value"),
    })
}

/// Values of every type, including the ones the parsers treat as absent.
fn odd_value(rng: &mut Rng) -> Value {
    let odd = [
        "null",
        "true",
        "0",
        "-3",
        "7.5",
        "1e3",
        "18446744073709551615",
        "\"\"",
        "\"null\"",
        "\"N/A\"",
        "\" padded \"",
        "\"User\"",
        "\"TARGET\"",
        "\"actor\"",
        "\"2024-01-12 10:05:11\"",
        "\"1700000000\"",
        "\"203.0.113.9\"",
        "\"[\\\"a\\\",\\\"b\\\"]\"",
        "\"a, b\"",
        "\"${role_name}\"",
        "[]",
        "[\"x\", 1, null]",
        "{}",
        "{\"$id\":\"1\",\"Type\":\"account\"}",
        "{\"remoteIpDetails\":{\"ipAddressV4\":\"198.51.100.7\"}}",
        "[{\"type\":\"User\",\"alternateId\":\"x@y.example\"}]",
        "\"#microsoft.graph.security.alert\"",
        "\"#microsoft.graph.security.incident\"",
        "\"#microsoft.graph.security.ipEvidence\"",
        "[\"attacker\", \"victim\"]",
        "{\"accountName\":\"x\",\"domainName\":\"CONTOSO\"}",
        "[{\"@odata.type\":\"#microsoft.graph.security.ipEvidence\",\"ipAddress\":\"198.51.100.8\"}]",
        "[{\"entityType\":\"Ip\",\"ipAddress\":\"198.51.100.8\"}]",
        "\"SecurityAlert\"",
        "{\"$ref\":\"3\"}",
        "\"[{\\\"$id\\\":\\\"9\\\",\\\"Address\\\":\\\"203.0.113.5\\\",\\\"Type\\\":\\\"ip\\\"}]\"",
        "{\"Analytic Rule Ids\":[\"r1\"],\"analytic rule name\":\"n\"}",
        "[{\"$id\":\"3\",\"HostName\":\"h1\",\"Type\":\"host\"},{\"$id\":\"3\",\"Address\":\"198.51.100.9\",\"Type\":\"ip\"}]",
    ];
    let text = *rng.pick::<&str>(&odd);
    serde_json::from_str(text).expect("odd value")
}

const KEYS: &[&str] = &[
    "Type",
    "type",
    "id",
    "uuid",
    "eventType",
    "eventSource",
    "eventName",
    "eventTime",
    "detail",
    "detail-type",
    "source",
    "status_code",
    "value",
    "$id",
    "category",
    "properties",
    "evidence",
    "object",
    "objectSchemaType",
    "findings",
    "Findings",
    "ProductArn",
    "Resources",
    "remoteIpDetails",
    "RemoteIpDetails",
    "actor",
    "target",
    "title",
    "Title",
    "severity",
    "resource",
    "service",
    "action",
    "relatedEntities",
    "alerts",
    "kind",
    "accountName",
    "AccountName",
    "@odata.type",
    "at_sign_odata_type",
    "serviceSource",
    "createdDateTime",
    "incidentId",
    "incidentName",
    "incidentWebUrl",
    "displayName",
    "machineId",
    "mitreTechniques",
    "roles",
    "userAccount",
    "ipAddress",
    "IpAddress",
    "fileDetails",
    "SystemAlertId",
    "AlertName",
    "TimeGenerated",
    "TenantId",
    "Entities",
    "entities",
    "ExtendedProperties",
    "CompromisedEntity",
    "Analytic Rule Ids",
    "$ref",
    "Address",
    "HostName",
];

fn mutate(v: &mut Value, rng: &mut Rng) {
    let mut nodes = Vec::new();
    containers(v, &mut Vec::new(), &mut nodes);
    let path = rng.pick(&nodes).clone();
    let node = at(v, &path);
    match node {
        Value::Object(o) if !o.is_empty() => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            match rng.below(6) {
                0 => {
                    o.remove(&key);
                }
                1 => {
                    o.insert(key, odd_value(rng));
                }
                2 => {
                    // The same key in another case.
                    let Some(x) = o.remove(&key) else { return };
                    let renamed = match rng.below(3) {
                        0 => key.to_ascii_uppercase(),
                        1 => key.to_ascii_lowercase(),
                        _ => {
                            let mut c = key.chars();
                            c.next()
                                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                                .unwrap_or_default()
                        }
                    };
                    o.insert(renamed, x);
                }
                3 => {
                    o.insert(rng.pick(KEYS).to_string(), odd_value(rng));
                }
                4 => {
                    if let Some(Value::String(s)) = o.get_mut(&key) {
                        inject(s, rng);
                    } else {
                        o.insert(key, odd_value(rng));
                    }
                }
                _ => {
                    if let Some(x) = o.get_mut(&key) {
                        *x = odd_value(rng);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            match rng.below(3) {
                0 => {
                    a.remove(i);
                }
                1 => a[i] = odd_value(rng),
                _ => {
                    let x = a[i].clone();
                    a.push(x);
                }
            }
        }
        other => *other = odd_value(rng),
    }
}

/// Unicode, characters JSON must escape, and padding, in a string.
fn inject(s: &mut String, rng: &mut Rng) {
    let bits = [
        "é",
        "\u{1F600}",
        "\u{202E}",
        "\"",
        "\\",
        "\n",
        "\t",
        " ",
        "\u{0}",
        "${x}",
        "/",
        ":",
        "@",
    ];
    let bit = rng.pick(&bits);
    let at = s
        .char_indices()
        .map(|(i, _)| i)
        .nth(rng.below(s.chars().count() + 1))
        .unwrap_or(s.len());
    s.insert_str(at, bit);
}

/// Serializes with random choices the `Value` cannot express: keys in another order, a key
/// repeated (before or after the one that stays), characters written as `\u` escapes.
fn write(v: &Value, rng: &mut Rng, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            if rng.chance(30) {
                entries.reverse();
            }
            let mut dup: Option<(&String, Value)> = None;
            if !entries.is_empty() && rng.chance(10) {
                let (k, _) = entries[rng.below(entries.len())];
                dup = Some((k, odd_value(rng)));
            }
            out.push('{');
            let mut first = true;
            let mut entry = |k: &str, x: &Value, rng: &mut Rng, out: &mut String| {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                write_str(k, rng, out);
                out.push(':');
                write(x, rng, out);
            };
            if let Some((k, x)) = dup.as_ref().filter(|_| rng.chance(50)) {
                entry(k, x, rng, out);
                dup = None;
            }
            for (k, x) in entries {
                entry(k, x, rng, out);
            }
            if let Some((k, x)) = dup {
                entry(k, &x, rng, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, rng, out);
            }
            out.push(']');
        }
        Value::String(s) => write_str(s, rng, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_str(s: &str, rng: &mut Rng, out: &mut String) {
    let escape = rng.chance(5);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || (escape && rng.chance(30)) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_payloads_agree(seed in any::<u64>(), which in any::<usize>(), edits in 0usize..5) {
        thread_local! {
            static SEEDS: Vec<Value> = seeds();
        }
        let mut rng = Rng(seed | 1);
        let mut v = SEEDS.with(|s| s[which % s.len()].clone());
        for _ in 0..edits {
            mutate(&mut v, &mut rng);
        }
        let mut text = String::new();
        write(&v, &mut rng, &mut text);
        if serde_json::from_str::<Value>(&text).is_ok() {
            check_record(&text, &text);
        }
        check_bytes(text.as_bytes(), &text);
    }
}

#[test]
fn keys_in_another_case_or_repeated_agree() {
    // A few hand-picked variants the `Value` path reads through its case-insensitive lookup.
    let event = String::from_utf8(corpus(
        "okta/panther_okta-session.start-stolen-session.json",
    ))
    .expect("UTF-8");
    let finding = String::from_utf8(fixture("guardduty_iam_user_key.json")).expect("UTF-8");
    let graph = String::from_utf8(fixture("graph_alert_v2_roles.json")).expect("UTF-8");
    let row =
        String::from_utf8(fixture("sentinel_securityalert_row_scheduled.json")).expect("UTF-8");
    for text in [
        event.replacen("\"displayMessage\"", "\"DisplayMessage\"", 1),
        event.replacen("\"eventType\"", "\"EventType\"", 1),
        event.replacen("{", "{\"uuid\": null, ", 1),
        event.replacen("{", "{\"published\": 1700000000, \"published\": \"x\", ", 1),
        finding.replacen("\"type\"", "\"Type\"", 1),
        finding.replacen("\"severity\"", "\"Severity\"", 1),
        finding.replacen("{", "{\"severity\": \"9\", ", 1),
        graph.replacen("\"title\"", "\"Title\"", 1),
        graph.replacen("\"ipAddress\"", "\"IPAddress\"", 1),
        graph.replacen("\"accountName\"", "\"AccountName\"", 1),
        graph.replacen("\"@odata.type\"", "\"at_sign_odata_type\"", 1),
        graph.replacen("{", "{\"@odata.type\": null, ", 1),
        graph.replacen(
            "{",
            "{\"incidentWebUrl\": \"x\", \"displayName\": \"y\", ",
            1,
        ),
        row.replacen("\"AlertName\"", "\"alertName\"", 1),
        row.replacen(
            "\"Type\": \"SecurityAlert\"",
            "\"Type\": \"SecurityIncident\"",
            1,
        ),
        row.replacen("{", "{\"Entities\": [], ", 1),
        row.replacen("\\\"Analytic Rule Ids\\\"", "\\\"analytic rule ids\\\"", 1),
        row.replacen("\\\"$id\\\":\\\"4\\\"", "\\\"$id\\\":\\\"3\\\"", 1),
        row.replacen("\\\"Name\\\"", "\\\"name\\\"", 1),
    ] {
        check_record(&text, &text);
        check_bytes(text.as_bytes(), &text);
    }
}

/// The mutation test is not vacuous: most mutated variants still take the fast path (and are
/// then compared), a good share of them with alerts.
#[test]
fn most_mutated_payloads_still_take_the_fast_path() {
    let seeds = seeds();
    let (mut fast, mut with_alerts, n) = (0, 0, 600);
    for i in 0..n {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
        let mut v = seeds[i % seeds.len()].clone();
        for _ in 0..1 + i % 3 {
            mutate(&mut v, &mut rng);
        }
        let mut text = String::new();
        write(&v, &mut rng, &mut text);
        if serde_json::from_str::<Value>(&text).is_ok() && check_record(&text, &text) {
            fast += 1;
            if parse_record_fast(&text).is_some_and(|p| p.result.is_ok_and(|a| !a.is_empty())) {
                with_alerts += 1;
            }
        }
    }
    assert!(
        fast * 2 > n,
        "only {fast} of {n} mutated payloads took the fast path"
    );
    assert!(with_alerts * 3 > n, "only {with_alerts} of {n} gave alerts");
}
