//! fleet's HTTP API as fleetctl and fleet's Go clients see it, against a real kvstore over real sockets: the
//! JSON shapes, status codes and messages of `notes/fleet-internals.md` §1, and Flotilla's additions
//! (metadata PUT/DELETE, the journal, `/metrics`, `/health`).

mod common;

use std::time::Duration;

use common::http::{self, Request};
use common::{FleetApi, VERSION};
use fleet_registry::ScheduleChange;
use serde_json::{json, Value};
use unitd_journal::{JournalWriter, Limits, Record, Stream};

const UNITS: &str = "/fleet/v1/units";

fn opts(pairs: &[(&str, &str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(s, n, v)| json!({"section": s, "name": n, "value": v}))
            .collect(),
    )
}

fn hello() -> Value {
    opts(&[
        ("Unit", "Description", "Hello"),
        ("Service", "ExecStart", "/bin/sh -c 'echo hi'"),
    ])
}

fn unit_path(name: &str) -> String {
    format!("{UNITS}/{name}")
}

/// Creates `name` with `options` and `desired` (201), as `fleetctl submit/start` does.
async fn create(api: &FleetApi, name: &str, options: Value, desired: &str) {
    let r = api
        .put_json(
            &unit_path(name),
            json!({"name": name, "options": options, "desiredState": desired}),
        )
        .await;
    assert_eq!(r.status, 201, "create {name}: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_lifecycle_create_get_update_destroy() {
    let api = FleetApi::start().await;
    let path = unit_path("hello.service");

    let r = api.put_json(&path, json!({"options": hello()})).await;
    assert_eq!(r.status, 201);
    assert!(r.body.is_empty(), "201 has no body");
    assert_eq!(r.header("content-type"), None, "201 has no Content-Type");

    // The unit as fleetctl reads it back: the body's name filled in, desiredState defaulted, not scheduled.
    let r = api.get(&path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "name": "hello.service",
            "options": hello(),
            "desiredState": "inactive",
            "currentState": "inactive",
        })
    );

    let r = api
        .put_json(&path, json!({"desiredState": "launched"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(api.get(&path).await.json()["desiredState"], "launched");

    // Same options again, no desiredState: fleet's 409.
    let r = api.put_json(&path, json!({"options": hello()})).await;
    assert_eq!(
        r.error(),
        (
            409,
            "must provide DesiredState to update existing unit".into()
        )
    );
    // Same options with a state is an update, not a replace.
    let r = api
        .put_json(&path, json!({"options": hello(), "desiredState": "loaded"}))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(api.get(&path).await.json()["desiredState"], "loaded");

    let r = api.delete(&path).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(
        api.get(&path).await.error(),
        (404, "unit does not exist".into())
    );
    assert_eq!(
        api.delete(&path).await.error(),
        (404, "unit does not exist".into())
    );
    assert_eq!(
        api.get(UNITS).await.json(),
        json!({}),
        "an empty page is {{}}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_refusals_have_fleets_status_and_message_and_write_nothing() {
    let api = FleetApi::start().await;
    let path = unit_path("a.service");
    let put = |headers: Vec<(&'static str, &'static str)>, body: String| {
        let mut req = Request::new("PUT", "/fleet/v1/units/a.service").body(body);
        req.headers = headers;
        req
    };
    let json_ct = vec![("Content-Type", "application/json")];
    let body = json!({"options": hello()}).to_string();

    let cases: Vec<(Request, u16, &str)> = vec![
        (
            put(vec![], body.clone()),
            415,
            "expected 1 Content-Type, got 0",
        ),
        (
            put(
                vec![
                    ("Content-Type", "application/json"),
                    ("Content-Type", "application/json"),
                ],
                body.clone(),
            ),
            415,
            "expected 1 Content-Type, got 2",
        ),
        (
            put(vec![("Content-Type", "text/plain")], body.clone()),
            415,
            "only acceptable Content-Type is application/json",
        ),
        (
            put(json_ct.clone(), String::new()),
            400,
            "unable to decode body: EOF",
        ),
        (
            put(
                json_ct.clone(),
                json!({"name": "b.service", "options": hello()}).to_string(),
            ),
            400,
            "name in URL \"a.service\" differs from unit name in request body \"b.service\"",
        ),
        (
            put(json_ct.clone(), json!({}).to_string()),
            409,
            "unit does not exist and options field empty",
        ),
        (
            put(
                json_ct.clone(),
                json!({"options": opts(&[
                    ("Service", "ExecStart", "/bin/true"),
                    ("X-Fleet", "MachineID", "abc"),
                    ("X-Fleet", "Global", "true"),
                ])})
                .to_string(),
            ),
            400,
            "MachineID cannot be used with Global",
        ),
        (
            put(
                json_ct.clone(),
                json!({"options": opts(&[
                    ("X-Fleet", "MachineOf", "db.service"),
                    ("X-Fleet", "Conflicts", "db*"),
                ])})
                .to_string(),
            ),
            400,
            "unresolvable requirements: peer \"db.service\" matches conflict \"db*\"",
        ),
        (
            put(
                json_ct.clone(),
                json!({"options": hello(), "desiredState": "running"}).to_string(),
            ),
            400,
            "invalid value \"running\" for JobState",
        ),
    ];
    for (req, status, message) in cases {
        let r = api.send(req).await;
        assert_eq!(r.error(), (status, message.to_string()));
    }
    assert_eq!(api.get(&path).await.status, 404, "nothing was created");

    // Names are validated on PUT (fleet's messages), not on GET.
    let r = api
        .put_json(&unit_path("hello.exe"), json!({"options": hello()}))
        .await;
    assert_eq!(r.error(), (400, "invalid unit type: \"exe\"".into()));
    let r = api
        .put_json(&unit_path("%40web.service"), json!({"options": hello()}))
        .await;
    assert_eq!(r.error(), (400, "unit name cannot start in \"@\"".into()));
    assert_eq!(api.get(&unit_path("hello.exe")).await.status, 404);

    // An existing unit: a bad desiredState is refused and the unit keeps reading back (fleet wrote it and the
    // unit then failed every GET with a 500).
    create(&api, "a.service", hello(), "loaded").await;
    let r = api.put_json(&path, json!({"desiredState": "foo"})).await;
    assert_eq!(
        r.error(),
        (400, "invalid value \"foo\" for JobState".into())
    );
    assert_eq!(api.get(&path).await.json()["desiredState"], "loaded");
    assert_eq!(api.get(UNITS).await.json()["units"][0]["name"], "a.service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_cannot_be_activated_but_instances_can() {
    let api = FleetApi::start().await;
    create(&api, "web@.service", hello(), "inactive").await;
    let template = unit_path("web@.service");
    for state in ["loaded", "launched"] {
        let r = api
            .put_json(&template, json!({"desiredState": state}))
            .await;
        assert_eq!(
            r.error(),
            (400, "cannot activate template \"web@.service\"".into())
        );
    }
    let r = api
        .put_json(&template, json!({"desiredState": "inactive"}))
        .await;
    assert_eq!(r.status, 204);
    create(&api, "web@1.service", hello(), "inactive").await;
    let r = api
        .put_json(
            &unit_path("web@1.service"),
            json!({"desiredState": "launched"}),
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_options_replace_the_unit_and_keep_its_machine() {
    let mut api = FleetApi::start().await;
    api.add_machine("m1", "10.0.0.1", &[]).await;
    create(&api, "app.service", hello(), "launched").await;
    api.place("app.service", "m1").await;
    let path = unit_path("app.service");

    let v2 = opts(&[("Service", "ExecStart", "/bin/sleep 1000")]);
    let r = api
        .put_json(&path, json!({"options": v2, "desiredState": "launched"}))
        .await;
    assert_eq!(r.status, 201, "a replacement is a create: {}", r.text());
    let got = api.get(&path).await.json();
    assert_eq!(got["options"], v2);
    assert_eq!(
        got["machineID"], "m1",
        "the schedule is kept, so m1 reloads it"
    );
    assert_eq!(got["desiredState"], "launched");

    // Replacing without a desiredState sets it to inactive, as fleet's CreateUnit does.
    let v3 = opts(&[("Service", "ExecStart", "/bin/sleep 2000")]);
    let r = api.put_json(&path, json!({"options": v3})).await;
    assert_eq!(r.status, 201);
    assert_eq!(api.get(&path).await.json()["desiredState"], "inactive");

    // Replacement options are validated like a new unit's (fleet skipped that).
    let bad = opts(&[
        ("X-Fleet", "Conflicts", "x.service"),
        ("X-Fleet", "Replaces", "y.service"),
    ]);
    let r = api.put_json(&path, json!({"options": bad})).await;
    assert_eq!(
        r.error(),
        (400, "Conflicts cannot be used with Replaces".into())
    );
    assert_eq!(api.get(&path).await.json()["options"], v3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_state_follows_the_target_machines_report() {
    let mut api = FleetApi::start().await;
    api.add_machine("m1", "10.0.0.1", &[]).await;
    api.add_machine("m2", "10.0.0.2", &[]).await;
    create(&api, "app.service", hello(), "launched").await;
    let path = unit_path("app.service");
    let current = |v: Value| (v["machineID"].clone(), v["currentState"].clone());

    assert_eq!(
        current(api.get(&path).await.json()),
        (Value::Null, json!("inactive"))
    );
    api.place("app.service", "m1").await;
    assert_eq!(
        current(api.get(&path).await.json()),
        (json!("m1"), json!("inactive"))
    );
    // Another machine's report does not make it loaded.
    api.put_state("app.service", "m2", "active", "running")
        .await;
    assert_eq!(current(api.get(&path).await.json()).1, "inactive");
    api.put_state("app.service", "m1", "inactive", "dead").await;
    assert_eq!(current(api.get(&path).await.json()).1, "loaded");
    api.put_state("app.service", "m1", "activating", "start")
        .await;
    assert_eq!(current(api.get(&path).await.json()).1, "launched");
    let listed = api.get(UNITS).await.json();
    assert_eq!(
        current(listed["units"][0].clone()),
        (json!("m1"), json!("launched"))
    );

    // A unit the engine cannot place says why.
    create(&api, "big.service", hello(), "launched").await;
    api.schedule(&[ScheduleChange::Reason {
        unit: "big.service".into(),
        reason: Some("no machine has metadata disk=ssd".into()),
    }])
    .await;
    assert_eq!(
        api.get(&unit_path("big.service")).await.json()["unschedulableReason"],
        "no machine has metadata disk=ssd"
    );

    // Global units run wherever they match: no machineID, no currentState, in the item and in the list.
    let global = opts(&[
        ("Service", "ExecStart", "/bin/true"),
        ("X-Fleet", "Global", "true"),
    ]);
    create(&api, "everywhere.service", global, "launched").await;
    api.put_state("everywhere.service", "m1", "active", "running")
        .await;
    let item = api.get(&unit_path("everywhere.service")).await.json();
    let listed = api.get(UNITS).await.json();
    let in_list = listed["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["name"] == "everywhere.service")
        .expect("listed")
        .clone();
    for v in [item, in_list] {
        assert_eq!(v["desiredState"], "launched");
        assert_eq!(current(v), (Value::Null, Value::Null));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_fleets_tokens() {
    let api = FleetApi::start_with(2).await;
    for name in [
        "e.service",
        "a.service",
        "c.service",
        "b.service",
        "d.service",
    ] {
        create(&api, name, hello(), "inactive").await;
    }
    // limit 2: pages a,b → c,d → e; the token is {limit 2, page N} little-endian, URL-safe base64.
    let mut names = Vec::new();
    let mut tokens = Vec::new();
    let mut path = UNITS.to_string();
    loop {
        let page = api.get(&path).await.json();
        let units = page["units"].as_array().cloned().unwrap_or_default();
        names.push(
            units
                .iter()
                .map(|u| u["name"].as_str().expect("name").to_string())
                .collect::<Vec<_>>(),
        );
        let Some(token) = page["nextPageToken"].as_str() else {
            break;
        };
        tokens.push(token.to_string());
        path = format!("{UNITS}?nextPageToken={token}");
    }
    assert_eq!(
        names,
        [
            vec!["a.service", "b.service"],
            vec!["c.service", "d.service"],
            vec!["e.service"],
        ]
    );
    assert_eq!(tokens, ["AgACAA==", "AgADAA=="]);

    // An exact multiple ends with an empty page and no token.
    api.delete(&unit_path("e.service")).await;
    assert_eq!(
        api.get(&format!("{UNITS}?nextPageToken=AgACAA%3D%3D"))
            .await
            .json()["nextPageToken"],
        "AgADAA=="
    );
    assert_eq!(
        api.get(&format!("{UNITS}?nextPageToken=AgADAA=="))
            .await
            .json(),
        json!({})
    );

    let bad = [
        ("ZAACAA==", "token limit must be 2"),
        ("AgAAAA==", "token page must be greater than zero"),
        ("", "EOF"),
        ("AgA=", "unexpected EOF"),
        (
            "AgACAA==&nextPageToken=AgACAA==",
            "too many values for page token",
        ),
    ];
    for route in ["/fleet/v1/units", "/fleet/v1/state", "/fleet/v1/machines"] {
        for (token, message) in bad {
            let r = api.get(&format!("{route}?nextPageToken={token}")).await;
            assert_eq!(r.error(), (400, message.to_string()), "{route} {token}");
        }
        let r = api.get(&format!("{route}?nextPageToken=!!!!")).await;
        let (status, message) = r.error();
        assert_eq!(status, 400);
        assert!(
            message.starts_with("illegal base64 data at input byte"),
            "{message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_list_filter_page_and_get() {
    let mut api = FleetApi::start_with(2).await;
    api.put_state("b.service", "m2", "active", "running").await;
    api.put_state("a.service", "m2", "failed", "failed").await;
    api.put_state("a.service", "m1", "active", "running").await;

    let page = api.get("/fleet/v1/state").await.json();
    assert_eq!(
        page,
        json!({
            "states": [
                {"name": "a.service", "hash": "0123456789abcdef0123456789abcdef01234567", "machineID": "m1",
                 "systemdLoadState": "loaded", "systemdActiveState": "active", "systemdSubState": "running"},
                {"name": "a.service", "hash": "0123456789abcdef0123456789abcdef01234567", "machineID": "m2",
                 "systemdLoadState": "loaded", "systemdActiveState": "failed", "systemdSubState": "failed"},
            ],
            "nextPageToken": "AgACAA==",
        })
    );
    let page = api
        .get("/fleet/v1/state?nextPageToken=AgACAA==")
        .await
        .json();
    assert_eq!(page["states"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["states"][0]["name"], "b.service");
    assert_eq!(page.get("nextPageToken"), None);

    // Filters apply before paging.
    let names = |v: Value| -> Vec<(String, String)> {
        v["states"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or_default().to_string(),
                    s["machineID"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let pair = |n: &str, m: &str| (n.to_string(), m.to_string());
    assert_eq!(
        names(api.get("/fleet/v1/state?machineID=m2").await.json()),
        [pair("a.service", "m2"), pair("b.service", "m2")]
    );
    assert_eq!(
        names(
            api.get("/fleet/v1/state?unitName=a.service&machineID=m2")
                .await
                .json()
        ),
        [pair("a.service", "m2")]
    );
    assert_eq!(
        api.get("/fleet/v1/state?unitName=nope.service")
            .await
            .json(),
        json!({})
    );

    // States are read on their own: they outlive a destroyed unit until the agent withdraws them.
    let r = api.get("/fleet/v1/state/b.service").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["machineID"], "m2");
    assert_eq!(
        api.get("/fleet/v1/state/nope.service").await.error(),
        (404, "unit state does not exist".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_list_and_dynamic_metadata() {
    let mut api = FleetApi::start().await;
    api.add_machine("m2", "10.0.0.2", &[]).await;
    api.add_machine("m1", "10.0.0.1", &[("region", "us-east"), ("disk", "hdd")])
        .await;
    let r = api.get("/fleet/v1/machines").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"machines": [
            {"id": "m1", "primaryIP": "10.0.0.1", "metadata": {"disk": "hdd", "region": "us-east"},
             "api": "http://10.0.0.1:49153"},
            {"id": "m2", "primaryIP": "10.0.0.2", "api": "http://10.0.0.2:49153"},
        ]})
    );

    let patch = |body: Value| Request::new("PATCH", "/fleet/v1/machines").body(body.to_string());
    let r = api
        .send(patch(json!([
            {"op": "replace", "path": "/m1/metadata/disk", "value": {"value": "ssd"}},
            {"op": "add", "path": "/m2/metadata/rack", "value": {"value": "r1"}},
            {"op": "remove", "path": "/m1/metadata/region"},
            {"op": "add", "path": "/m1/metadata/zone", "value": {"value": "a"}},
            {"op": "replace", "path": "/m1/metadata/zone", "value": {"value": "b"}},
        ])))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let metadata = |v: &Value, i: usize| v["machines"][i]["metadata"].clone();
    let listed = api.get("/fleet/v1/machines").await.json();
    assert_eq!(metadata(&listed, 0), json!({"disk": "ssd", "zone": "b"}));
    assert_eq!(metadata(&listed, 1), json!({"rack": "r1"}));

    // Every op is checked before any is applied.
    let refused = [
        (
            json!([{"op": "move", "path": "/m1/metadata/k", "value": {"value": "v"}}]),
            "invalid op: expect add, remove, or replace",
        ),
        (
            json!([{"op": "add", "path": "/m1/metadata/k", "value": {"value": "v"}},
                {"op": "add", "path": "/m1/metadata/bad key", "value": {"value": "v"}}]),
            "machine metadata path invalid",
        ),
        (
            json!([{"op": "add", "path": "/m1/k", "value": {"value": "v"}}]),
            "machine metadata path invalid",
        ),
        (
            json!([{"op": "add", "path": "/m1/metadata/k", "value": {"value": ""}}]),
            "invalid value: add and replace require a value",
        ),
    ];
    for (body, message) in refused {
        let r = api.send(patch(body)).await;
        assert_eq!(r.error(), (400, message.to_string()));
    }
    // fleet's value is nested; a bare string does not decode.
    let r = api
        .send(patch(
            json!([{"op": "add", "path": "/m1/metadata/k", "value": "v"}]),
        ))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        metadata(&api.get("/fleet/v1/machines").await.json(), 0),
        json!({"disk": "ssd", "zone": "b"}),
        "nothing of a refused PATCH was applied"
    );
    let r = api
        .send(patch(
            json!([{"op": "add", "path": "/nope/metadata/k", "value": {"value": "v"}}]),
        ))
        .await;
    assert_eq!(r.error(), (404, "machine does not exist".into()));

    // Flotilla's one-key conveniences.
    let key = "/fleet/v1/machines/m2/metadata/rack";
    let r = api.put_json(key, json!({"value": "r9"})).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        metadata(&api.get("/fleet/v1/machines").await.json(), 1),
        json!({"rack": "r9"})
    );
    let r = api.delete(key).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        api.get("/fleet/v1/machines").await.json()["machines"][1].get("metadata"),
        None
    );
    for r in [
        api.put_json(
            "/fleet/v1/machines/nope/metadata/rack",
            json!({"value": "r9"}),
        )
        .await,
        api.delete("/fleet/v1/machines/nope/metadata/rack").await,
    ] {
        assert_eq!(r.error(), (404, "machine does not exist".into()));
    }
    let r = api.put_json(key, json!({"value": ""})).await;
    assert_eq!(
        r.error(),
        (400, "invalid value: add and replace require a value".into())
    );
    let r = api
        .put_json(
            "/fleet/v1/machines/m2/metadata/a%20b",
            json!({"value": "x"}),
        )
        .await;
    assert_eq!(r.error(), (400, "machine metadata path invalid".into()));
    let r = api.get(key).await;
    assert_eq!(
        r.error(),
        (
            405,
            "only PUT and DELETE supported against this resource".into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_paths_wrong_methods_and_the_server_header() {
    let api = FleetApi::start().await;
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/", 405, ""),
        ("GET", "/fleet/v1", 405, ""),
        ("GET", "/v1-alpha", 405, ""),
        ("GET", "/nope", 404, ""),
        ("GET", "/fleet/v1/", 404, ""),
        ("GET", "/fleet/v1/units/", 404, ""),
        ("GET", "/fleet/v1/units/a/b", 404, ""),
        ("GET", "/fleet/v1/machines/m1", 404, ""),
        ("GET", "/fleet/v1/state/", 404, ""),
        (
            "POST",
            "/fleet/v1/units",
            405,
            "only GET supported against this resource",
        ),
        (
            "HEAD",
            "/fleet/v1/units",
            405,
            "only GET supported against this resource",
        ),
        (
            "POST",
            "/fleet/v1/units/a.service",
            405,
            "only GET, PUT and DELETE supported against this resource",
        ),
        (
            "PUT",
            "/fleet/v1/state",
            405,
            "only GET supported against this resource",
        ),
        (
            "DELETE",
            "/fleet/v1/state/a.service",
            405,
            "only GET supported against this resource",
        ),
        (
            "DELETE",
            "/fleet/v1/machines",
            405,
            "only GET and PATCH supported against this resource",
        ),
        (
            "PUT",
            "/fleet/v1/discovery",
            400,
            "only HTTP GET supported against this resource",
        ),
        (
            "POST",
            "/metrics",
            405,
            "only GET supported against this resource",
        ),
        (
            "GET",
            "/v1-alpha/units/a.service",
            404,
            "unit does not exist",
        ),
    ];
    for (method, path, status, message) in cases {
        let r = api.send(Request::new(method, path)).await;
        assert_eq!(
            r.header("server"),
            Some(format!("fleetd/{VERSION}").as_str()),
            "{method} {path}"
        );
        if *method == "HEAD" {
            assert_eq!(r.status, *status, "{method} {path}");
            continue;
        }
        assert_eq!(r.error(), (*status, message.to_string()), "{method} {path}");
    }

    // Non-clean paths redirect to the clean one, query kept (Go's ServeMux).
    let r = api.get("//fleet/v1/./units?nextPageToken=x").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("/fleet/v1/units?nextPageToken=x")
    );

    // Success answers carry the header too, and the legacy prefix lists the same units.
    create(&api, "a.service", hello(), "inactive").await;
    let r = api.get("/v1-alpha/units").await;
    assert_eq!(
        r.header("server"),
        Some(format!("fleetd/{VERSION}").as_str())
    );
    assert_eq!(r.json(), api.get(UNITS).await.json());
    // Escaped names reach the unit (fleetctl escapes `\` in names like `a\x2db.service`).
    create(&api, "a\\x2db.service", hello(), "inactive").await;
    let r = api.get("/fleet/v1/units/a%5Cx2db.service").await;
    assert_eq!(r.json()["name"], "a\\x2db.service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_describes_the_api() {
    let api = FleetApi::start().await;
    let r = api.get("/fleet/v1/discovery").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["basePath"], "/fleet/v1/");
    assert_eq!(
        doc["resources"]["Units"]["methods"]["Set"]["httpMethod"],
        "PUT"
    );
    assert_eq!(
        doc["schemas"]["Unit"]["properties"]["desiredState"]["enum"],
        json!(["inactive", "loaded", "launched"])
    );
}

/// Parses Prometheus text: every sample line is `name{labels} value`.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("sample line {l:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("sample value in {l:?}"));
            (series.to_string(), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_pattern() {
    let api = FleetApi::start().await;
    api.get("/fleet/v1/units/a.service").await;
    api.get("/fleet/v1/units/b.service").await;
    api.get("/v1-alpha/units/c.service").await;
    api.get("/nope").await;
    let r = api.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/plain")));
    let text = r.text();
    let scraped = samples(&text);
    let value = |series: &str| scraped.iter().find(|(s, _)| s == series).map(|(_, v)| *v);
    assert_eq!(
        value(
            r#"fleet_api_requests_total{code="404",method="GET",route="/fleet/v1/units/{name}"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            r#"fleet_api_request_duration_seconds_count{method="GET",route="/fleet/v1/units/{name}"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        value(r#"fleet_api_requests_total{code="404",method="GET",route="unmatched"}"#),
        Some(1.0)
    );
    assert!(
        !text.contains("a.service") && !text.contains("/nope"),
        "no raw paths in labels"
    );
    // The scrape itself is counted once it is answered.
    let again = samples(&api.get("/metrics").await.text());
    assert_eq!(
        again
            .iter()
            .find(|(s, _)| s
                == r#"fleet_api_requests_total{code="200",method="GET",route="/metrics"}"#)
            .map(|(_, v)| *v),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_errors_follow_the_kv_store() {
    let mut api = FleetApi::start().await;
    let r = api.get("/health").await;
    assert_eq!((r.status, r.json()), (200, json!({"health": "true"})));

    api.kv.kill9();
    let r = api.get("/health").await;
    assert_eq!((r.status, r.json()), (503, json!({"health": "false"})));
    let r = api.get(UNITS).await;
    assert_eq!(
        r.error(),
        (503, "fleet server unable to communicate with etcd".into())
    );
}

/// Writes `messages` to `unit`'s journal in `dir`, as unitd would.
fn log(dir: &std::path::Path, unit: &str, messages: &[&str]) {
    let mut w = JournalWriter::open(dir, Limits::default()).expect("open journal");
    for m in messages {
        let r = Record::from_line(
            unitd_journal::now_usec(),
            unit,
            "app",
            Some(42),
            Stream::Stdout,
            m,
        );
        w.append(&r).expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_reads_and_follows_this_machines_unit_logs() {
    let mut api = FleetApi::start().await;
    let path = "/fleet/v1/journal/app.service";
    assert_eq!(
        api.get(path).await.error(),
        (503, "unitd journal not available on this machine".into())
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    *api.journal_dir.write().expect("lock") = Some(tmp.path().to_path_buf());
    log(tmp.path(), "app.service", &["one", "two", "three"]);
    log(tmp.path(), "other.service", &["not mine"]);

    assert_eq!(
        api.get("/fleet/v1/journal/nope.service").await.error(),
        (
            404,
            "no journal for unit nope.service on this machine".into()
        )
    );
    assert_eq!(
        api.get("/fleet/v1/journal/%2E%2E").await.status,
        404,
        "names are looked up, never joined onto a path"
    );
    let r = api.get(&format!("{path}?lines=2&output=cat")).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/plain")));
    assert_eq!(r.text(), "two\nthree\n");
    let r = api.get(&format!("{path}?lines=1&output=json")).await;
    let record: Value = serde_json::from_str(r.text().trim_end()).expect("one JSON record");
    assert_eq!(record["MESSAGE"], "three");
    assert_eq!(record["_SYSTEMD_UNIT"], "app.service");
    let short = api.get(&format!("{path}?lines=1")).await.text();
    assert!(short.ends_with(" app[42]: three\n"), "{short:?}");
    assert_eq!(
        api.get(&format!("{path}?output=verbose")).await.error(),
        (
            400,
            "invalid output \"verbose\": expected short, short-iso, json or cat".into()
        )
    );

    // follow: the last line, then new ones as they are written, on an open response.
    let mut follow = api
        .open(Request::new(
            "GET",
            &format!("{path}?lines=1&follow=true&output=cat"),
        ))
        .await;
    assert_eq!(follow.head.status, 200);
    let first = follow
        .next_within(Duration::from_secs(5))
        .await
        .expect("the last line");
    assert_eq!(String::from_utf8_lossy(&first), "three\n");
    log(tmp.path(), "other.service", &["still not mine"]);
    log(tmp.path(), "app.service", &["four"]);
    let next = follow
        .next_within(Duration::from_secs(5))
        .await
        .expect("a new line");
    assert_eq!(String::from_utf8_lossy(&next), "four\n");

    // Stopping the server ends the follow instead of waiting for the client to hang up.
    api.stop(Duration::from_secs(10))
        .await
        .expect("serve stops cleanly");
    assert_eq!(
        follow.next_within(Duration::from_secs(5)).await,
        None,
        "the stream ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_a_unix_socket_and_replaces_a_stale_one() {
    let api = FleetApi::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let sock = tmp.path().join("run/fleet.sock");
    let addr = fleetd::api::parse_listen(&format!("unix://{}", sock.display())).expect("unix URL");
    // A socket file left behind by a dead fleetd.
    drop(std::os::unix::net::UnixListener::bind({
        std::fs::create_dir_all(sock.parent().expect("parent")).expect("mkdir");
        &sock
    }));
    assert!(sock.exists());
    let listener = fleetd::api::bind(&addr)
        .await
        .expect("bind over a stale socket");
    let state = fleetd::api::ApiState {
        registry: api.registry.clone(),
        token_limit: 100,
        machine_id: "m".into(),
        journal_dir: Default::default(),
        metrics: api.metrics.clone(),
        version: VERSION.into(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fleetd::api::serve(listener, state, async move {
        let _ = rx.await;
    }));
    create(&api, "a.service", hello(), "inactive").await;
    let stream = tokio::net::UnixStream::connect(&sock)
        .await
        .expect("connect");
    let r = http::send(stream, Request::new("GET", UNITS)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["units"][0]["name"], "a.service");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops")
        .expect("no panic")
        .expect("serve ok");
}
