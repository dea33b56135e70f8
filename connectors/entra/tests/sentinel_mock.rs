//! The Sentinel (ARM) part of the mock server behaves like ARM: api-version required, roles
//! checked, etags enforced, incidents listed by last modification (reconciliation, C7). Lives
//! here because the mock crate has no HTTP client; later write-back work builds on it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use cordon_mockapi::MockServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

const TENANT: &str = "7b795fb9-09d3-42f4-a494-38864f99ba3c";
const SUB: &str = "00000000-1111-2222-3333-444444444444";
const WS: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/soc-rg/providers/Microsoft.OperationalInsights/workspaces/soc-ws/providers/Microsoft.SecurityInsights";
const API: &str = "api-version=2024-03-01";

async fn start() -> MockServer {
    let seed = json!({
        "identity": {"tenants": {TENANT: {"clients": [
            {"client_id": "responder", "client_secret": "s", "roles": {"https://management.azure.com": ["Microsoft Sentinel Responder"]}},
            {"client_id": "reader", "client_secret": "s", "roles": {"https://management.azure.com": ["Microsoft Sentinel Reader"]}}
        ]}}},
        "sentinel": {"incidents": [
            {"subscription": SUB, "resourceGroup": "soc-rg", "workspace": "soc-ws", "name": "inc-old",
             "properties": {"title": "Old", "severity": "Low", "status": "Closed", "classification": "BenignPositive",
                            "createdTimeUtc": "2026-01-01T00:00:00Z", "lastModifiedTimeUtc": "2026-01-01T00:00:00Z"}},
            {"subscription": SUB, "resourceGroup": "soc-rg", "workspace": "soc-ws", "name": "inc-new",
             "properties": {"title": "Token theft", "severity": "High", "status": "New",
                            "createdTimeUtc": "2026-03-01T00:00:00Z", "lastModifiedTimeUtc": "2026-03-01T00:00:00Z"},
             "entities": [{"kind": "Account", "properties": {"accountName": "alice", "upnSuffix": "contoso.com"}},
                          {"kind": "Ip", "properties": {"address": "203.0.113.7"}}],
             "alerts": [{"properties": {"alertDisplayName": "Anomalous token"}}]}
        ]}
    });
    MockServer::start(&seed.to_string()).await.unwrap()
}

async fn token(mock: &MockServer, client: &str, resource: &str) -> String {
    let v: Value = reqwest::Client::new()
        .post(format!("{}/login/{TENANT}/oauth2/v2.0/token", mock.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", "s"),
            ("scope", &format!("{resource}/.default")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

fn url(mock: &MockServer, rest: &str) -> String {
    format!("{}/arm{WS}{rest}", mock.url())
}

#[tokio::test]
async fn list_filters_by_last_modified_and_pages() {
    let mock = start().await;
    let t = token(&mock, "reader", "https://management.azure.com").await;
    let c = reqwest::Client::new();
    let v: Value = c
        .get(url(&mock, &format!("/incidents?{API}&$filter=properties/lastModifiedTimeUtc%20gt%202026-02-01T00:00:00Z")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inc-new"]);
    assert_eq!(
        v["value"][0]["properties"]["additionalData"]["alertsCount"],
        1
    );

    let page: Value = c
        .get(url(
            &mock,
            &format!("/incidents?{API}&$top=1&$orderby=properties/createdTimeUtc%20asc"),
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["value"][0]["name"], "inc-old");
    let next = page["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/arm/subscriptions/", mock.url())),
        "{next}"
    );
    let page2: Value = c
        .get(next)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["value"][0]["name"], "inc-new");
    assert!(page2.get("nextLink").is_none());

    let bad = c
        .get(url(&mock, &format!("/incidents?{API}&$filter=bogus")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn put_needs_the_current_etag_and_a_responder_role() {
    let mock = start().await;
    let t = token(&mock, "responder", "https://management.azure.com").await;
    let c = reqwest::Client::new();
    let inc: Value = c
        .get(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let etag = inc["etag"].as_str().unwrap().to_string();
    let mut props = inc["properties"].clone();
    props["labels"] = json!([{"labelName": "cordon:contained", "labelType": "User"}]);

    let stale = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .json(&json!({"etag": "\"stale\"", "properties": props}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let no_etag = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .json(&json!({"properties": props}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_etag.status(), StatusCode::CONFLICT);
    let if_match = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .header("If-Match", "\"stale\"")
        .json(&json!({"properties": props}))
        .send()
        .await
        .unwrap();
    assert_eq!(if_match.status(), StatusCode::PRECONDITION_FAILED);

    let ok = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .json(&json!({"etag": etag, "properties": props}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let updated: Value = ok.json().await.unwrap();
    assert_ne!(updated["etag"], etag);
    assert_eq!(
        updated["properties"]["labels"][0]["labelName"],
        "cordon:contained"
    );
    assert_eq!(
        updated["properties"]["incidentNumber"],
        inc["properties"]["incidentNumber"]
    );
    assert_ne!(
        updated["properties"]["lastModifiedTimeUtc"],
        "2026-03-01T00:00:00Z"
    );

    // Closing needs a classification.
    let mut closing = updated["properties"].clone();
    closing["status"] = json!("Closed");
    let r = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&t)
        .json(&json!({"etag": updated["etag"], "properties": closing}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A reader cannot write; no api-version is refused; a Graph token is not an ARM token.
    let reader = token(&mock, "reader", "https://management.azure.com").await;
    let r = c
        .put(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&reader)
        .json(&json!({"etag": updated["etag"], "properties": props}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let r = c
        .get(url(&mock, "/incidents/inc-new"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .get(url(&mock, &format!("/incidents/inc-new?{API}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let graph = token(&mock, "responder", "https://graph.microsoft.com").await;
    let r = c
        .get(url(&mock, &format!("/incidents/inc-new?{API}")))
        .bearer_auth(&graph)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(url(&mock, &format!("/incidents/nope?{API}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn comments_entities_and_alerts() {
    let mock = start().await;
    let t = token(&mock, "responder", "https://management.azure.com").await;
    let c = reqwest::Client::new();
    let comment =
        json!({"properties": {"message": "Cordon disabled alice@contoso.com (action act-1)"}});
    let r = c
        .put(url(
            &mock,
            &format!("/incidents/inc-new/comments/cordon-act-1?{API}"),
        ))
        .bearer_auth(&t)
        .json(&comment)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The same comment id again updates it (idempotent write-back).
    let r = c
        .put(url(
            &mock,
            &format!("/incidents/inc-new/comments/cordon-act-1?{API}"),
        ))
        .bearer_auth(&t)
        .json(&comment)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = c
        .get(url(&mock, &format!("/incidents/inc-new/comments?{API}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    let ents: Value = c
        .post(url(&mock, &format!("/incidents/inc-new/entities?{API}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ents["entities"].as_array().unwrap().len(), 2);
    assert_eq!(
        ents["metaData"],
        json!([{"count": 1, "entityKind": "Account"}, {"count": 1, "entityKind": "Ip"}])
    );
    let alerts: Value = c
        .post(url(&mock, &format!("/incidents/inc-new/alerts?{API}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        alerts["value"][0]["properties"]["alertDisplayName"],
        "Anomalous token"
    );

    let snap: Value = reqwest::get(format!("{}/_mock/state", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inc = snap["sentinel"]["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "inc-new")
        .unwrap()
        .clone();
    assert_eq!(inc["comments"].as_array().unwrap().len(), 1);
    assert_eq!(inc["properties"]["additionalData"]["commentsCount"], 1);

    // Creating a new incident by PUT.
    let r = c
        .put(url(&mock, &format!("/incidents/inc-created?{API}")))
        .bearer_auth(&t)
        .json(&json!({"properties": {"title": "Made by test", "severity": "Medium", "status": "New"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}
