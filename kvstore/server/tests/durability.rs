//! Nothing acknowledged is lost on `kill -9`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{KvStore, Ports};
use etcd_client::{Client, GetOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let ports = Ports::free();
    let mut s = KvStore::start_in(&dir, ports);
    let c = Client::connect([s.endpoint()], None).await.unwrap();
    // 16 concurrent writers, so acknowledgements come out of shared (group-committed) fsyncs.
    let mut tasks = Vec::new();
    for w in 0..16 {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..100 {
                let key = format!("d/{w:02}/{i:03}");
                c.put(key.clone(), format!("v{i}"), None).await.unwrap();
                acked.push(key);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let rev_before = c
        .clone()
        .get(
            "d/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    let rev_before = rev_before.header().unwrap().revision();
    s.kill9();
    drop(c);

    let s = KvStore::start_in(&dir, ports);
    let mut c = Client::connect([s.endpoint()], None).await.unwrap();
    let got = c
        .get("d/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(
        got.kvs().len(),
        acked.len(),
        "every acknowledged write is back"
    );
    assert_eq!(
        got.header().unwrap().revision(),
        rev_before,
        "same revision after restart"
    );
    for kv in got.kvs() {
        let key = kv.key_str().unwrap();
        let i: usize = key.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(kv.value_str().unwrap(), format!("v{i}"));
    }
    // And the store keeps working.
    let put = c.put("after", "restart", None).await.unwrap();
    assert_eq!(put.header().unwrap().revision(), rev_before + 1);
}
