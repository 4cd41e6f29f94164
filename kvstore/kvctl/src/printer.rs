//! Turning responses into output, byte for byte as etcdctl 3.4 prints them.
//!
//! Every method renders into bytes (keys and values are bytes, not text) and leaves writing to the caller, so
//! the formats are tested without a server. Formats: `simple` (`printer_simple.go`), `json` (`printer_json.go`:
//! Go's `encoding/json` of the clientv3 structs, so `omitempty` fields vanish, byte fields are base64 and some
//! responses have their header flattened), `fields` (`printer_fields.go`) and `table` (tablewriter's look, drawn
//! with comfy-table). Where etcdctl has no table (put, del, txn, watch, lease) kvctl fails as etcdctl does;
//! `get` gets a KEY/VALUE table, which etcdctl lacks.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use comfy_table::{Cell, CellAlignment, Table};
use kvstore_proto::etcdserverpb::{
    response_op, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse,
    MemberListResponse, PutResponse, RangeResponse, ResponseHeader, StatusResponse, TxnResponse,
    WatchResponse,
};
use kvstore_proto::mvccpb::{event::EventType, KeyValue};
use serde::Serialize;

use crate::error::{go_quote, ExitCode, Failure};

/// The `--write-out` formats kvctl knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Simple,
    Json,
    Table,
    Fields,
}

impl Format {
    /// Parses `--write-out`; an unknown format fails like etcdctl (exit 4).
    pub fn parse(s: &str) -> Result<Format, Failure> {
        match s {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            "fields" => Ok(Format::Fields),
            "protobuf" => Err(Failure::new(
                ExitCode::BadFeature,
                "protobuf not supported as output format by kvctl",
            )),
            _ => Err(Failure::new(
                ExitCode::BadFeature,
                "unsupported output format",
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Table => "table",
            Format::Fields => "fields",
        }
    }
}

/// One endpoint's answer to `endpoint health`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpHealth {
    /// The endpoint as given.
    pub ep: String,
    /// Whether the probe read succeeded.
    pub health: bool,
    /// Go duration string of the probe.
    pub took: String,
    /// Why it failed; empty when healthy.
    pub error: String,
}

/// One endpoint's answer to `endpoint status`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpStatus {
    /// The endpoint as given.
    pub ep: String,
    /// What its Maintenance.Status returned.
    pub resp: StatusResponse,
}

/// One endpoint's answer to `endpoint hashkv`.
#[derive(Clone, Debug)]
pub struct EpHashKv {
    /// The endpoint as given.
    pub ep: String,
    /// What its Maintenance.HashKV returned.
    pub resp: HashKvResponse,
}

/// Renders responses in one format.
#[derive(Clone, Debug)]
pub struct Printer {
    /// The `--write-out` format.
    pub format: Format,
    /// `--hex`: keys and values as `\x..` escapes (simple format only, as etcdctl).
    pub hex: bool,
    /// `get --print-value-only`.
    pub value_only: bool,
    /// `get --count-only`: simple format prints only the count.
    pub count_only: bool,
}

/// What a render produced, or why it can't be rendered in this format.
pub type Rendered = Result<Vec<u8>, Failure>;

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format, hex: bool) -> Printer {
        Printer {
            format,
            hex,
            value_only: false,
            count_only: false,
        }
    }

    fn unsupported(&self) -> Failure {
        Failure::new(
            ExitCode::BadFeature,
            format!("{} not supported as output format", self.format.name()),
        )
    }

    /// `get`.
    pub fn get(&self, r: &RangeResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple if self.count_only => line(&mut out, r.count.to_string()),
            Format::Simple => self.simple_get(&mut out, r),
            Format::Json => json(&mut out, &JRange::from(r)),
            Format::Fields => fields_get(&mut out, r),
            Format::Table if self.count_only => {
                out = table(
                    &["COUNT"],
                    vec![vec![r.count.to_string()]],
                    CellAlignment::Right,
                )
            }
            Format::Table => {
                let rows = r
                    .kvs
                    .iter()
                    .map(|kv| {
                        let (k, v) = self.key_value_text(kv);
                        vec![
                            String::from_utf8_lossy(&k).into_owned(),
                            String::from_utf8_lossy(&v).into_owned(),
                        ]
                    })
                    .collect();
                out = table(&["KEY", "VALUE"], rows, CellAlignment::Left);
            }
        }
        Ok(out)
    }

    /// `put`.
    pub fn put(&self, r: &PutResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => self.simple_put(&mut out, r),
            Format::Json => json(&mut out, &JPut::from(r)),
            Format::Fields => fields_put(&mut out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `del`.
    pub fn del(&self, r: &DeleteRangeResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => self.simple_del(&mut out, r),
            Format::Json => json(&mut out, &JDel::from(r)),
            Format::Fields => fields_del(&mut out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `txn`.
    pub fn txn(&self, r: &TxnResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => self.simple_txn(&mut out, r),
            Format::Json => json(&mut out, &JTxn::from(r)),
            Format::Fields => fields_txn(&mut out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// One `watch` response (events only; created/progress responses print nothing in simple format).
    pub fn watch(&self, r: &WatchResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => {
                for e in &r.events {
                    line(&mut out, event_type_name(e.r#type));
                    if let Some(prev) = &e.prev_kv {
                        self.simple_kv(&mut out, prev);
                    }
                    if let Some(kv) = &e.kv {
                        self.simple_kv(&mut out, kv);
                    }
                }
            }
            Format::Json => json(&mut out, &JWatch::from(r)),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                for e in &r.events {
                    line(
                        &mut out,
                        format!("\"Type\" : {}", event_type_name(e.r#type)),
                    );
                    if let Some(prev) = &e.prev_kv {
                        fields_kv(&mut out, "Prev", prev);
                    }
                    if let Some(kv) = &e.kv {
                        fields_kv(&mut out, "", kv);
                    }
                }
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `lease grant`.
    pub fn grant(&self, r: &LeaseGrantResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => line(
                &mut out,
                format!("lease {} granted with TTL({}s)", lease_hex(r.id), r.ttl),
            ),
            Format::Json => json(
                &mut out,
                &JGrant {
                    header: JHeader::flat(r.header.as_ref()),
                    id: r.id,
                    ttl: r.ttl,
                    error: r.error.clone(),
                },
            ),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                line(&mut out, format!("\"ID\" : {}", r.id));
                line(&mut out, format!("\"TTL\" : {}", r.ttl));
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `lease revoke`.
    pub fn revoke(&self, id: i64, r: &LeaseRevokeResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => line(&mut out, format!("lease {} revoked", lease_hex(id))),
            Format::Json => json(
                &mut out,
                &JHeaderOnly {
                    header: r.header.as_ref().map(JHeader::from),
                },
            ),
            Format::Fields => fields_header(&mut out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// One `lease keep-alive` response.
    pub fn keep_alive(&self, r: &LeaseKeepAliveResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => line(
                &mut out,
                format!("lease {} keepalived with TTL({})", lease_hex(r.id), r.ttl),
            ),
            Format::Json => json(
                &mut out,
                &JKeepAlive {
                    header: JHeader::flat(r.header.as_ref()),
                    id: r.id,
                    ttl: r.ttl,
                },
            ),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                line(&mut out, format!("\"ID\" : {}", r.id));
                line(&mut out, format!("\"TTL\" : {}", r.ttl));
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `lease timetolive`.
    pub fn time_to_live(&self, r: &LeaseTimeToLiveResponse, keys: bool) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => {
                if r.granted_ttl == 0 && r.ttl == -1 {
                    line(
                        &mut out,
                        format!("lease {} already expired", lease_hex(r.id)),
                    );
                } else {
                    let mut text = format!(
                        "lease {} granted with TTL({}s), remaining({}s)",
                        lease_hex(r.id),
                        r.granted_ttl,
                        r.ttl
                    );
                    if keys {
                        let names: Vec<String> = r
                            .keys
                            .iter()
                            .map(|k| String::from_utf8_lossy(k).into_owned())
                            .collect();
                        text.push_str(&format!(", attached keys([{}])", names.join(" ")));
                    }
                    line(&mut out, text);
                }
            }
            Format::Json => json(
                &mut out,
                &JTimeToLive {
                    header: JHeader::flat(r.header.as_ref()),
                    id: r.id,
                    ttl: r.ttl,
                    granted_ttl: r.granted_ttl,
                    keys: if r.keys.is_empty() {
                        None
                    } else {
                        Some(r.keys.iter().map(|k| BASE64.encode(k)).collect())
                    },
                },
            ),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                line(&mut out, format!("\"ID\" : {}", r.id));
                line(&mut out, format!("\"TTL\" : {}", r.ttl));
                line(&mut out, format!("\"GrantedTTL\" : {}", r.granted_ttl));
                for k in &r.keys {
                    line(&mut out, format!("\"Key\" : {}", go_quote(k)));
                }
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `lease list`.
    pub fn leases(&self, r: &LeaseLeasesResponse) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => {
                line(&mut out, format!("found {} leases", r.leases.len()));
                for l in &r.leases {
                    line(&mut out, lease_hex(l.id));
                }
            }
            Format::Json => json(
                &mut out,
                &JLeases {
                    header: JHeader::flat(r.header.as_ref()),
                    leases: r.leases.iter().map(|l| JLeaseStatus { id: l.id }).collect(),
                },
            ),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                for l in &r.leases {
                    line(&mut out, format!("\"ID\" : {}", l.id));
                }
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(out)
    }

    /// `member list`.
    pub fn member_list(&self, r: &MemberListResponse) -> Rendered {
        let mut out = Vec::new();
        let (hdr, rows) = member_list_rows(r);
        match self.format {
            Format::Simple => {
                for row in rows {
                    line(&mut out, row.join(", "));
                }
            }
            Format::Json => json(&mut out, &JMemberList::from(r)),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                fields_members(&mut out, &r.members);
            }
            Format::Table => out = table(&hdr, rows, CellAlignment::Right),
        }
        Ok(out)
    }

    /// `member add`: etcdctl's line, then (simple and table formats) the settings that start the new member.
    pub fn member_add(&self, r: &MemberAddResponse, name: &str) -> Rendered {
        let mut out = Vec::new();
        let member = r.member.clone().unwrap_or_default();
        let cluster = r.header.as_ref().map_or(0, |h| h.cluster_id);
        match self.format {
            Format::Simple | Format::Table => {
                let learner = if member.is_learner {
                    " as learner "
                } else {
                    " "
                };
                line(
                    &mut out,
                    format!(
                        "Member {:16x} added{learner}to cluster {cluster:16x}",
                        member.id
                    ),
                );
                out.extend_from_slice(&new_member_env(name, &member, &r.members));
            }
            Format::Json => json(
                &mut out,
                &JMemberAdd {
                    header: r.header.as_ref().map(JHeader::from),
                    member: r.member.as_ref().map(JMember::from),
                    members: r.members.iter().map(JMember::from).collect(),
                },
            ),
            Format::Fields => {
                fields_header(&mut out, r.header.as_ref());
                fields_members(&mut out, std::slice::from_ref(&member));
            }
        }
        Ok(out)
    }

    /// `member remove|update|promote`: `verb` is etcdctl's word ("removed from", "updated in", "promoted in").
    pub fn member_changed(
        &self,
        id: u64,
        verb: &str,
        header: Option<&ResponseHeader>,
        members: &[Member],
    ) -> Rendered {
        let mut out = Vec::new();
        let cluster = header.map_or(0, |h| h.cluster_id);
        match self.format {
            Format::Simple | Format::Table => line(
                &mut out,
                format!("Member {id:16x} {verb} cluster {cluster:16x}"),
            ),
            Format::Json => json(&mut out, &JMemberList::new(header, members)),
            Format::Fields => {
                fields_header(&mut out, header);
                fields_members(&mut out, members);
            }
        }
        Ok(out)
    }

    /// `endpoint health`: returns (stdout, stderr), since etcdctl's simple format writes to stderr.
    pub fn endpoint_health(&self, list: &[EpHealth]) -> Result<(Vec<u8>, Vec<u8>), Failure> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        match self.format {
            Format::Simple => {
                for h in list {
                    if h.error.is_empty() {
                        line(
                            &mut err,
                            format!(
                                "{} is healthy: successfully committed proposal: took = {}",
                                h.ep, h.took
                            ),
                        );
                    } else {
                        line(
                            &mut err,
                            format!(
                                "{} is unhealthy: failed to commit proposal: {}",
                                h.ep, h.error
                            ),
                        );
                    }
                }
            }
            Format::Json => {
                let j: Vec<JEpHealth> = list
                    .iter()
                    .map(|h| JEpHealth {
                        endpoint: h.ep.clone(),
                        health: h.health,
                        took: h.took.clone(),
                        error: h.error.clone(),
                    })
                    .collect();
                json(&mut out, &j);
            }
            Format::Fields => {
                for h in list {
                    line(
                        &mut out,
                        format!("\"Endpoint\" : {}", go_quote(h.ep.as_bytes())),
                    );
                    line(&mut out, format!("\"Health\" : {}", h.health));
                    line(&mut out, format!("\"Took\" : {}", h.took));
                    line(&mut out, format!("\"Error\" : {}", h.error));
                    line(&mut out, "");
                }
            }
            Format::Table => {
                let rows = list
                    .iter()
                    .map(|h| {
                        vec![
                            h.ep.clone(),
                            h.health.to_string(),
                            h.took.clone(),
                            h.error.clone(),
                        ]
                    })
                    .collect();
                out = table(
                    &["ENDPOINT", "HEALTH", "TOOK", "ERROR"],
                    rows,
                    CellAlignment::Right,
                );
            }
        }
        Ok((out, err))
    }

    /// `endpoint hashkv`, as etcdctl prints it.
    pub fn endpoint_hashkv(&self, list: &[EpHashKv]) -> Rendered {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => {
                for h in list {
                    line(&mut out, format!("{}, {}", h.ep, h.resp.hash));
                }
            }
            Format::Json => {
                let j: Vec<JEpHashKv> = list
                    .iter()
                    .map(|h| JEpHashKv {
                        endpoint: h.ep.clone(),
                        hash_kv: JHashKv {
                            header: h.resp.header.as_ref().map(JHeader::from),
                            hash: h.resp.hash,
                            compact_revision: h.resp.compact_revision,
                        },
                    })
                    .collect();
                json(&mut out, &j);
            }
            Format::Fields => {
                for h in list {
                    fields_header(&mut out, h.resp.header.as_ref());
                    line(
                        &mut out,
                        format!("\"Endpoint\" : {}", go_quote(h.ep.as_bytes())),
                    );
                    line(&mut out, format!("\"Hash\" : {}", h.resp.hash));
                    line(&mut out, "");
                }
            }
            Format::Table => {
                let rows = list
                    .iter()
                    .map(|h| vec![h.ep.clone(), h.resp.hash.to_string()])
                    .collect();
                out = table(&["ENDPOINT", "HASH"], rows, CellAlignment::Right);
            }
        }
        Ok(out)
    }

    /// `endpoint status`.
    pub fn endpoint_status(&self, list: &[EpStatus]) -> Rendered {
        let mut out = Vec::new();
        let rows: Vec<Vec<String>> = list.iter().map(endpoint_status_row).collect();
        match self.format {
            Format::Simple => {
                for row in rows {
                    line(&mut out, row.join(", "));
                }
            }
            Format::Json => {
                let j: Vec<JEpStatus> = list
                    .iter()
                    .map(|s| JEpStatus {
                        endpoint: s.ep.clone(),
                        status: JStatus::from(&s.resp),
                    })
                    .collect();
                json(&mut out, &j);
            }
            Format::Fields => {
                for s in list {
                    let r = &s.resp;
                    fields_header(&mut out, r.header.as_ref());
                    line(
                        &mut out,
                        format!("\"Version\" : {}", go_quote(r.version.as_bytes())),
                    );
                    line(&mut out, format!("\"DBSize\" : {}", r.db_size));
                    line(&mut out, format!("\"Leader\" : {}", r.leader));
                    line(&mut out, format!("\"IsLearner\" : {}", r.is_learner));
                    line(&mut out, format!("\"RaftIndex\" : {}", r.raft_index));
                    line(&mut out, format!("\"RaftTerm\" : {}", r.raft_term));
                    line(
                        &mut out,
                        format!("\"RaftAppliedIndex\" : {}", r.raft_applied_index),
                    );
                    line(&mut out, format!("\"Errors\" : [{}]", r.errors.join(" ")));
                    line(
                        &mut out,
                        format!("\"Endpoint\" : {}", go_quote(s.ep.as_bytes())),
                    );
                    line(&mut out, "");
                }
            }
            Format::Table => {
                out = table(
                    &[
                        "ENDPOINT",
                        "ID",
                        "VERSION",
                        "DB SIZE",
                        "IS LEADER",
                        "IS LEARNER",
                        "RAFT TERM",
                        "RAFT INDEX",
                        "RAFT APPLIED INDEX",
                        "ERRORS",
                    ],
                    rows,
                    CellAlignment::Right,
                )
            }
        }
        Ok(out)
    }

    fn key_value_text(&self, kv: &KeyValue) -> (Vec<u8>, Vec<u8>) {
        if self.hex {
            (
                hex_escape(&kv.key).into_bytes(),
                hex_escape(&kv.value).into_bytes(),
            )
        } else {
            (kv.key.clone(), kv.value.clone())
        }
    }

    /// etcdctl's `printKV`: the key on one line, the value on the next.
    fn simple_kv(&self, out: &mut Vec<u8>, kv: &KeyValue) {
        let (k, v) = self.key_value_text(kv);
        if !self.value_only {
            out.extend_from_slice(&k);
            out.push(b'\n');
        }
        out.extend_from_slice(&v);
        out.push(b'\n');
    }

    fn simple_get(&self, out: &mut Vec<u8>, r: &RangeResponse) {
        for kv in &r.kvs {
            self.simple_kv(out, kv);
        }
    }

    fn simple_put(&self, out: &mut Vec<u8>, r: &PutResponse) {
        line(out, "OK");
        if let Some(prev) = &r.prev_kv {
            self.simple_kv(out, prev);
        }
    }

    fn simple_del(&self, out: &mut Vec<u8>, r: &DeleteRangeResponse) {
        line(out, r.deleted.to_string());
        for kv in &r.prev_kvs {
            self.simple_kv(out, kv);
        }
    }

    fn simple_txn(&self, out: &mut Vec<u8>, r: &TxnResponse) {
        line(out, if r.succeeded { "SUCCESS" } else { "FAILURE" });
        for resp in &r.responses {
            line(out, "");
            match &resp.response {
                Some(response_op::Response::ResponseRange(g)) => self.simple_get(out, g),
                Some(response_op::Response::ResponsePut(p)) => self.simple_put(out, p),
                Some(response_op::Response::ResponseDeleteRange(d)) => self.simple_del(out, d),
                other => line(out, format!("unexpected response {other:?}")),
            }
        }
    }
}

/// The `ID, Status, Name, Peer Addrs, Client Addrs, Is Learner` rows of `member list`.
pub fn member_list_rows(r: &MemberListResponse) -> ([&'static str; 6], Vec<Vec<String>>) {
    let hdr = [
        "ID",
        "STATUS",
        "NAME",
        "PEER ADDRS",
        "CLIENT ADDRS",
        "IS LEARNER",
    ];
    let rows = r
        .members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect();
    (hdr, rows)
}

fn endpoint_status_row(s: &EpStatus) -> Vec<String> {
    let r = &s.resp;
    let member_id = r.header.as_ref().map(|h| h.member_id).unwrap_or(0);
    vec![
        s.ep.clone(),
        format!("{member_id:x}"),
        r.version.clone(),
        human_bytes(r.db_size.max(0) as u64),
        (r.leader == member_id).to_string(),
        r.is_learner.to_string(),
        r.raft_term.to_string(),
        r.raft_index.to_string(),
        r.raft_applied_index.to_string(),
        r.errors.join(", "),
    ]
}

/// A lease ID as etcdctl prints it: `%016x` of a signed 64-bit number.
pub fn lease_hex(id: i64) -> String {
    if id < 0 {
        format!("-{:015x}", id.unsigned_abs())
    } else {
        format!("{id:016x}")
    }
}

/// go-humanize's `Bytes`: SI units, one decimal below 10 (`20 kB`, `1.2 MB`).
pub fn human_bytes(s: u64) -> String {
    if s < 10 {
        return format!("{s} B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((s as f64).ln() / 1000f64.ln()).floor();
    let suffix = SIZES[(e as usize).min(SIZES.len() - 1)];
    let val = ((s as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

/// etcdctl's `--hex` form: every byte as `\xNN`.
pub fn hex_escape(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

fn event_type_name(t: i32) -> &'static str {
    match EventType::try_from(t) {
        Ok(t) => t.as_str_name(),
        Err(_) => "UNKNOWN",
    }
}

fn line(out: &mut Vec<u8>, text: impl AsRef<str>) {
    out.extend_from_slice(text.as_ref().as_bytes());
    out.push(b'\n');
}

fn json<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    // Serializing these plain structs cannot fail; an empty object is the safe fallback all the same.
    match serde_json::to_vec(value) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"{}"),
    }
    out.push(b'\n');
}

/// A tablewriter-looking table: `+---+` borders, a `-` rule under the header, no rules between rows, headers
/// upper-case and centred with the odd space on the right (comfy-table would put it on the left).
fn table(headers: &[&str], rows: Vec<Vec<String>>, align: CellAlignment) -> Vec<u8> {
    let mut t = Table::new();
    t.load_preset("||--+-++|    ++++++");
    let width = |s: &str| s.chars().count();
    let header_cells: Vec<Cell> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.to_uppercase();
            let col = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .fold(width(&h), usize::max);
            let gap = col - width(&h);
            let left = gap / 2;
            Cell::new(format!("{}{h}{}", " ".repeat(left), " ".repeat(gap - left)))
        })
        .collect();
    t.set_header(header_cells);
    for row in rows {
        t.add_row(
            row.into_iter()
                .map(|c| Cell::new(c).set_alignment(align))
                .collect::<Vec<_>>(),
        );
    }
    let mut s = t.to_string();
    s.push('\n');
    s.into_bytes()
}

fn fields_members(out: &mut Vec<u8>, members: &[Member]) {
    for m in members {
        line(out, format!("\"ID\" : {}", m.id));
        line(out, format!("\"Name\" : {}", go_quote(m.name.as_bytes())));
        for u in &m.peer_ur_ls {
            line(out, format!("\"PeerURL\" : {}", go_quote(u.as_bytes())));
        }
        for u in &m.client_ur_ls {
            line(out, format!("\"ClientURL\" : {}", go_quote(u.as_bytes())));
        }
        line(out, format!("\"IsLearner\" : {}", m.is_learner));
        line(out, "");
    }
}

/// What etcdctl prints after `member add` for starting the new member, with kvstore's variable names
/// (`KVSTORE_*`, the environment form of the flags of the same names): every member's `name=peerURL`, the new one
/// under the name it was added with, since it has not published its own yet.
pub fn new_member_env(name: &str, added: &Member, members: &[Member]) -> Vec<u8> {
    let cluster: Vec<String> = members
        .iter()
        .flat_map(|m| {
            let n = if m.id == added.id {
                name
            } else {
                m.name.as_str()
            };
            m.peer_ur_ls.iter().map(move |u| format!("{n}={u}"))
        })
        .collect();
    let mut out = Vec::new();
    line(&mut out, "");
    line(
        &mut out,
        format!("KVSTORE_NAME={}", go_quote(name.as_bytes())),
    );
    line(
        &mut out,
        format!(
            "KVSTORE_INITIAL_CLUSTER={}",
            go_quote(cluster.join(",").as_bytes())
        ),
    );
    line(
        &mut out,
        format!(
            "KVSTORE_INITIAL_ADVERTISE_PEER_URLS={}",
            go_quote(added.peer_ur_ls.join(",").as_bytes())
        ),
    );
    line(&mut out, "KVSTORE_INITIAL_CLUSTER_STATE=\"existing\"");
    out
}

fn fields_header(out: &mut Vec<u8>, h: Option<&ResponseHeader>) {
    let d = ResponseHeader::default();
    let h = h.unwrap_or(&d);
    line(out, format!("\"ClusterID\" : {}", h.cluster_id));
    line(out, format!("\"MemberID\" : {}", h.member_id));
    line(out, format!("\"Revision\" : {}", h.revision));
    line(out, format!("\"RaftTerm\" : {}", h.raft_term));
}

fn fields_kv(out: &mut Vec<u8>, pfx: &str, kv: &KeyValue) {
    line(out, format!("\"{pfx}Key\" : {}", go_quote(&kv.key)));
    line(
        out,
        format!("\"{pfx}CreateRevision\" : {}", kv.create_revision),
    );
    line(out, format!("\"{pfx}ModRevision\" : {}", kv.mod_revision));
    line(out, format!("\"{pfx}Version\" : {}", kv.version));
    line(out, format!("\"{pfx}Value\" : {}", go_quote(&kv.value)));
    line(out, format!("\"{pfx}Lease\" : {}", kv.lease));
}

fn fields_get(out: &mut Vec<u8>, r: &RangeResponse) {
    fields_header(out, r.header.as_ref());
    for kv in &r.kvs {
        fields_kv(out, "", kv);
    }
    line(out, format!("\"More\" : {}", r.more));
    line(out, format!("\"Count\" : {}", r.count));
}

fn fields_put(out: &mut Vec<u8>, r: &PutResponse) {
    fields_header(out, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        fields_kv(out, "Prev", prev);
    }
}

fn fields_del(out: &mut Vec<u8>, r: &DeleteRangeResponse) {
    fields_header(out, r.header.as_ref());
    line(out, format!("\"Deleted\" : {}", r.deleted));
    for kv in &r.prev_kvs {
        fields_kv(out, "Prev", kv);
    }
}

fn fields_txn(out: &mut Vec<u8>, r: &TxnResponse) {
    fields_header(out, r.header.as_ref());
    line(out, format!("\"Succeeded\" : {}", r.succeeded));
    for resp in &r.responses {
        match &resp.response {
            Some(response_op::Response::ResponseRange(g)) => fields_get(out, g),
            Some(response_op::Response::ResponsePut(p)) => fields_put(out, p),
            Some(response_op::Response::ResponseDeleteRange(d)) => fields_del(out, d),
            other => line(
                out,
                format!(
                    "\"Unknown\" : {}",
                    go_quote(format!("{other:?}").as_bytes())
                ),
            ),
        }
    }
}

// ---- JSON shapes: Go's encoding/json of etcd's clientv3/etcdserverpb structs, field for field. ----

fn zero_u64(v: &u64) -> bool {
    *v == 0
}
fn zero_i64(v: &i64) -> bool {
    *v == 0
}
fn zero_i32(v: &i32) -> bool {
    *v == 0
}
fn not(v: &bool) -> bool {
    !*v
}

#[derive(Serialize, Default)]
struct JHeader {
    #[serde(skip_serializing_if = "zero_u64")]
    cluster_id: u64,
    #[serde(skip_serializing_if = "zero_u64")]
    member_id: u64,
    #[serde(skip_serializing_if = "zero_i64")]
    revision: i64,
    #[serde(skip_serializing_if = "zero_u64")]
    raft_term: u64,
}

impl From<&ResponseHeader> for JHeader {
    fn from(h: &ResponseHeader) -> JHeader {
        JHeader {
            cluster_id: h.cluster_id,
            member_id: h.member_id,
            revision: h.revision,
            raft_term: h.raft_term,
        }
    }
}

impl JHeader {
    /// For clientv3 structs that embed `*ResponseHeader` (lease responses): fields at the top level.
    fn flat(h: Option<&ResponseHeader>) -> JHeader {
        h.map(JHeader::from).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct JHeaderOnly {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
}

#[derive(Serialize)]
struct JKv {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "zero_i64")]
    create_revision: i64,
    #[serde(skip_serializing_if = "zero_i64")]
    mod_revision: i64,
    #[serde(skip_serializing_if = "zero_i64")]
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "zero_i64")]
    lease: i64,
}

fn b64_nonempty(b: &[u8]) -> Option<String> {
    if b.is_empty() {
        None
    } else {
        Some(BASE64.encode(b))
    }
}

impl From<&KeyValue> for JKv {
    fn from(kv: &KeyValue) -> JKv {
        JKv {
            key: b64_nonempty(&kv.key),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            value: b64_nonempty(&kv.value),
            lease: kv.lease,
        }
    }
}

#[derive(Serialize)]
struct JRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kvs: Vec<JKv>,
    #[serde(skip_serializing_if = "not")]
    more: bool,
    #[serde(skip_serializing_if = "zero_i64")]
    count: i64,
}

impl From<&RangeResponse> for JRange {
    fn from(r: &RangeResponse) -> JRange {
        JRange {
            header: r.header.as_ref().map(JHeader::from),
            kvs: r.kvs.iter().map(JKv::from).collect(),
            more: r.more,
            count: r.count,
        }
    }
}

#[derive(Serialize)]
struct JPut {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_kv: Option<JKv>,
}

impl From<&PutResponse> for JPut {
    fn from(r: &PutResponse) -> JPut {
        JPut {
            header: r.header.as_ref().map(JHeader::from),
            prev_kv: r.prev_kv.as_ref().map(JKv::from),
        }
    }
}

#[derive(Serialize)]
struct JDel {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "zero_i64")]
    deleted: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prev_kvs: Vec<JKv>,
}

impl From<&DeleteRangeResponse> for JDel {
    fn from(r: &DeleteRangeResponse) -> JDel {
        JDel {
            header: r.header.as_ref().map(JHeader::from),
            deleted: r.deleted,
            prev_kvs: r.prev_kvs.iter().map(JKv::from).collect(),
        }
    }
}

#[derive(Serialize)]
struct JTxn {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "not")]
    succeeded: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    responses: Vec<JResponseOp>,
}

#[derive(Serialize)]
struct JResponseOp {
    #[serde(rename = "Response")]
    response: Option<JResponseUnion>,
}

#[derive(Serialize)]
#[allow(clippy::enum_variant_names)]
enum JResponseUnion {
    ResponseRange(JRange),
    ResponsePut(JPut),
    ResponseDeleteRange(JDel),
    ResponseTxn(Box<JTxn>),
}

impl From<&TxnResponse> for JTxn {
    fn from(r: &TxnResponse) -> JTxn {
        JTxn {
            header: r.header.as_ref().map(JHeader::from),
            succeeded: r.succeeded,
            responses: r
                .responses
                .iter()
                .map(|op| JResponseOp {
                    response: op.response.as_ref().map(|resp| match resp {
                        response_op::Response::ResponseRange(g) => {
                            JResponseUnion::ResponseRange(g.into())
                        }
                        response_op::Response::ResponsePut(p) => {
                            JResponseUnion::ResponsePut(p.into())
                        }
                        response_op::Response::ResponseDeleteRange(d) => {
                            JResponseUnion::ResponseDeleteRange(d.into())
                        }
                        response_op::Response::ResponseTxn(t) => {
                            JResponseUnion::ResponseTxn(Box::new(t.into()))
                        }
                    }),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JWatch {
    header: JHeader,
    events: Option<Vec<JEvent>>,
    compact_revision: i64,
    canceled: bool,
    created: bool,
}

#[derive(Serialize)]
struct JEvent {
    #[serde(rename = "type", skip_serializing_if = "zero_i32")]
    kind: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    kv: Option<JKv>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_kv: Option<JKv>,
}

impl From<&WatchResponse> for JWatch {
    fn from(r: &WatchResponse) -> JWatch {
        JWatch {
            header: JHeader::flat(r.header.as_ref()),
            events: if r.events.is_empty() {
                None
            } else {
                Some(
                    r.events
                        .iter()
                        .map(|e| JEvent {
                            kind: e.r#type,
                            kv: e.kv.as_ref().map(JKv::from),
                            prev_kv: e.prev_kv.as_ref().map(JKv::from),
                        })
                        .collect(),
                )
            },
            compact_revision: r.compact_revision,
            canceled: r.canceled,
            created: r.created,
        }
    }
}

#[derive(Serialize)]
struct JGrant {
    #[serde(flatten)]
    header: JHeader,
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "TTL")]
    ttl: i64,
    #[serde(rename = "Error")]
    error: String,
}

#[derive(Serialize)]
struct JKeepAlive {
    #[serde(flatten)]
    header: JHeader,
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "TTL")]
    ttl: i64,
}

#[derive(Serialize)]
struct JTimeToLive {
    #[serde(flatten)]
    header: JHeader,
    id: i64,
    ttl: i64,
    #[serde(rename = "granted-ttl")]
    granted_ttl: i64,
    keys: Option<Vec<String>>,
}

#[derive(Serialize)]
struct JLeases {
    #[serde(flatten)]
    header: JHeader,
    leases: Vec<JLeaseStatus>,
}

#[derive(Serialize)]
struct JLeaseStatus {
    id: i64,
}

#[derive(Serialize)]
struct JMemberList {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members: Vec<JMember>,
}

#[derive(Serialize)]
struct JMember {
    #[serde(rename = "ID", skip_serializing_if = "zero_u64")]
    id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "peerURLs", skip_serializing_if = "Vec::is_empty")]
    peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", skip_serializing_if = "Vec::is_empty")]
    client_urls: Vec<String>,
    #[serde(rename = "isLearner", skip_serializing_if = "not")]
    is_learner: bool,
}

impl From<&Member> for JMember {
    fn from(m: &Member) -> JMember {
        JMember {
            id: m.id,
            name: m.name.clone(),
            peer_urls: m.peer_ur_ls.clone(),
            client_urls: m.client_ur_ls.clone(),
            is_learner: m.is_learner,
        }
    }
}

impl From<&MemberListResponse> for JMemberList {
    fn from(r: &MemberListResponse) -> JMemberList {
        JMemberList::new(r.header.as_ref(), &r.members)
    }
}

impl JMemberList {
    fn new(header: Option<&ResponseHeader>, members: &[Member]) -> JMemberList {
        JMemberList {
            header: header.map(JHeader::from),
            members: members.iter().map(JMember::from).collect(),
        }
    }
}

/// `member add` in JSON: the response, the new member included.
#[derive(Serialize)]
struct JMemberAdd {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<JMember>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members: Vec<JMember>,
}

#[derive(Serialize)]
struct JEpHealth {
    endpoint: String,
    health: bool,
    took: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

#[derive(Serialize)]
struct JEpHashKv {
    #[serde(rename = "Endpoint")]
    endpoint: String,
    #[serde(rename = "HashKV")]
    hash_kv: JHashKv,
}

#[derive(Serialize)]
struct JHashKv {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "zero_u32")]
    hash: u32,
    #[serde(skip_serializing_if = "zero_i64")]
    compact_revision: i64,
}

fn zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Serialize)]
struct JEpStatus {
    #[serde(rename = "Endpoint")]
    endpoint: String,
    #[serde(rename = "Status")]
    status: JStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<JHeader>,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "zero_i64")]
    db_size: i64,
    #[serde(skip_serializing_if = "zero_u64")]
    leader: u64,
    #[serde(skip_serializing_if = "zero_u64")]
    raft_index: u64,
    #[serde(skip_serializing_if = "zero_u64")]
    raft_term: u64,
    #[serde(skip_serializing_if = "zero_u64")]
    raft_applied_index: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "zero_i64")]
    db_size_in_use: i64,
    #[serde(skip_serializing_if = "not")]
    is_learner: bool,
}

impl From<&StatusResponse> for JStatus {
    fn from(r: &StatusResponse) -> JStatus {
        JStatus {
            header: r.header.as_ref().map(JHeader::from),
            version: r.version.clone(),
            db_size: r.db_size,
            leader: r.leader,
            raft_index: r.raft_index,
            raft_term: r.raft_term,
            raft_applied_index: r.raft_applied_index,
            errors: r.errors.clone(),
            db_size_in_use: r.db_size_in_use,
            is_learner: r.is_learner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvstore_proto::etcdserverpb::{LeaseStatus, Member, ResponseOp};
    use kvstore_proto::mvccpb::Event;

    fn header(rev: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: 324952591200643719,
            member_id: 3319814642761637952,
            revision: rev,
            raft_term: 2,
        })
    }

    fn kv(k: &str, v: &str, create: i64, m: i64, ver: i64) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.into(),
            create_revision: create,
            mod_revision: m,
            version: ver,
            lease: 0,
        }
    }

    fn text(r: Rendered) -> String {
        String::from_utf8(r.expect("renders")).expect("utf8")
    }

    fn simple() -> Printer {
        Printer::new(Format::Simple, false)
    }

    #[test]
    fn get_simple_prints_key_then_value() {
        let r = RangeResponse {
            header: header(3),
            kvs: vec![kv("/a/b", "1", 2, 2, 1), kv("/a/c/d", "2", 3, 3, 1)],
            more: false,
            count: 2,
        };
        assert_eq!(text(simple().get(&r)), "/a/b\n1\n/a/c/d\n2\n");
        let mut p = simple();
        p.value_only = true;
        assert_eq!(text(p.get(&r)), "1\n2\n");
        p.value_only = false;
        p.count_only = true;
        assert_eq!(text(p.get(&r)), "2\n");
        let hex = Printer::new(Format::Simple, true);
        assert_eq!(text(hex.get(&r)).lines().next(), Some(r"\x2f\x61\x2f\x62"));
    }

    #[test]
    fn get_json_matches_etcdctl() {
        let r = RangeResponse {
            header: header(3),
            kvs: vec![kv("/a/b", "1", 2, 2, 1), kv("/a/c/d", "2", 3, 3, 1)],
            more: false,
            count: 2,
        };
        let want = r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":3,"raft_term":2},"kvs":[{"key":"L2EvYg==","create_revision":2,"mod_revision":2,"version":1,"value":"MQ=="},{"key":"L2EvYy9k","create_revision":3,"mod_revision":3,"version":1,"value":"Mg=="}],"count":2}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).get(&r)),
            format!("{want}\n")
        );
        let empty = RangeResponse {
            header: header(3),
            ..Default::default()
        };
        let want = r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":3,"raft_term":2}}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).get(&empty)),
            format!("{want}\n")
        );
    }

    #[test]
    fn get_table_has_key_and_value_columns() {
        let r = RangeResponse {
            header: header(3),
            kvs: vec![kv("k", "value", 2, 2, 1)],
            more: false,
            count: 1,
        };
        let t = text(Printer::new(Format::Table, false).get(&r));
        assert_eq!(
            t,
            "+-----+-------+\n| KEY | VALUE |\n+-----+-------+\n| k   | value |\n+-----+-------+\n"
        );
    }

    #[test]
    fn put_del_and_unsupported_table() {
        let p = PutResponse {
            header: header(4),
            prev_kv: Some(kv("k", "old", 2, 2, 1)),
        };
        assert_eq!(text(simple().put(&p)), "OK\nk\nold\n");
        let d = DeleteRangeResponse {
            header: header(5),
            deleted: 1,
            prev_kvs: vec![],
        };
        assert_eq!(text(simple().del(&d)), "1\n");
        let want = r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2},"deleted":1}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).del(&d)),
            format!("{want}\n")
        );
        let err = Printer::new(Format::Table, false)
            .put(&p)
            .expect_err("no table for put");
        assert_eq!(err.code, ExitCode::BadFeature);
        assert_eq!(
            err.message.as_deref(),
            Some("table not supported as output format")
        );
    }

    #[test]
    fn txn_simple_and_json() {
        let r = TxnResponse {
            header: header(8),
            succeeded: true,
            responses: vec![
                ResponseOp {
                    response: Some(response_op::Response::ResponsePut(PutResponse {
                        header: Some(ResponseHeader {
                            revision: 8,
                            ..Default::default()
                        }),
                        prev_kv: None,
                    })),
                },
                ResponseOp {
                    response: Some(response_op::Response::ResponseRange(RangeResponse {
                        header: Some(ResponseHeader {
                            revision: 8,
                            ..Default::default()
                        }),
                        kvs: vec![kv("lk", "x", 6, 8, 3)],
                        more: false,
                        count: 1,
                    })),
                },
                ResponseOp {
                    response: Some(response_op::Response::ResponseDeleteRange(
                        DeleteRangeResponse {
                            header: Some(ResponseHeader {
                                revision: 8,
                                ..Default::default()
                            }),
                            deleted: 0,
                            prev_kvs: vec![],
                        },
                    )),
                },
            ],
        };
        assert_eq!(text(simple().txn(&r)), "SUCCESS\n\nOK\n\nlk\nx\n\n0\n");
        let want = r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":8,"raft_term":2},"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":8}}}},{"Response":{"ResponseRange":{"header":{"revision":8},"kvs":[{"key":"bGs=","create_revision":6,"mod_revision":8,"version":3,"value":"eA=="}],"count":1}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":8}}}}]}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).txn(&r)),
            format!("{want}\n")
        );
    }

    #[test]
    fn watch_events_simple_and_json() {
        let r = WatchResponse {
            header: header(12),
            events: vec![Event {
                r#type: EventType::Delete as i32,
                kv: Some(KeyValue {
                    key: "w1".into(),
                    mod_revision: 12,
                    ..Default::default()
                }),
                prev_kv: Some(kv("w1", "b", 10, 11, 2)),
            }],
            ..Default::default()
        };
        assert_eq!(text(simple().watch(&r)), "DELETE\nw1\nb\nw1\n\n");
        let mut no_prev = r.clone();
        no_prev.events[0].prev_kv = None;
        let want = r#"{"Header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":12,"raft_term":2},"Events":[{"type":1,"kv":{"key":"dzE=","mod_revision":12}}],"CompactRevision":0,"Canceled":false,"Created":false}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).watch(&no_prev)),
            format!("{want}\n")
        );
    }

    #[test]
    fn lease_outputs() {
        let g = LeaseGrantResponse {
            header: header(5),
            id: 0x2040a208b962a90b,
            ttl: 10,
            error: String::new(),
        };
        assert_eq!(
            text(simple().grant(&g)),
            "lease 2040a208b962a90b granted with TTL(10s)\n"
        );
        let want = r#"{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"ID":2324035566076864779,"TTL":10,"Error":""}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).grant(&g)),
            format!("{want}\n")
        );
        let ka = LeaseKeepAliveResponse {
            header: header(7),
            id: 0x2040a208b962a90f,
            ttl: 100,
        };
        assert_eq!(
            text(simple().keep_alive(&ka)),
            "lease 2040a208b962a90f keepalived with TTL(100)\n"
        );
        let ttl = LeaseTimeToLiveResponse {
            header: header(7),
            id: 0x2040a208b962a90f,
            ttl: 99,
            granted_ttl: 100,
            keys: vec![b"lk".to_vec(), b"lk2".to_vec()],
        };
        assert_eq!(
            text(simple().time_to_live(&ttl, true)),
            "lease 2040a208b962a90f granted with TTL(100s), remaining(99s), attached keys([lk lk2])\n"
        );
        let expired = LeaseTimeToLiveResponse {
            header: header(9),
            id: 0x2040a208b962a90f,
            ttl: -1,
            granted_ttl: 0,
            keys: vec![],
        };
        assert_eq!(
            text(simple().time_to_live(&expired, false)),
            "lease 2040a208b962a90f already expired\n"
        );
        let want = r#"{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":9,"raft_term":2,"id":2324035566076864783,"ttl":-1,"granted-ttl":0,"keys":null}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).time_to_live(&expired, false)),
            format!("{want}\n")
        );
        let list = LeaseLeasesResponse {
            header: header(7),
            leases: vec![LeaseStatus { id: 1 }, LeaseStatus { id: 0xabc }],
        };
        assert_eq!(
            text(simple().leases(&list)),
            "found 2 leases\n0000000000000001\n0000000000000abc\n"
        );
    }

    #[test]
    fn member_list_formats() {
        let r = MemberListResponse {
            header: Some(ResponseHeader {
                cluster_id: 324952591200643719,
                member_id: 3319814642761637952,
                revision: 0,
                raft_term: 2,
            }),
            members: vec![Member {
                id: 0x2e1259d415f2a040,
                name: "default".into(),
                peer_ur_ls: vec!["http://127.0.0.1:23800".into()],
                client_ur_ls: vec!["http://127.0.0.1:23790".into()],
                is_learner: false,
            }],
        };
        assert_eq!(
            text(simple().member_list(&r)),
            "2e1259d415f2a040, started, default, http://127.0.0.1:23800, http://127.0.0.1:23790, false\n"
        );
        let want = r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"raft_term":2},"members":[{"ID":3319814642761637952,"name":"default","peerURLs":["http://127.0.0.1:23800"],"clientURLs":["http://127.0.0.1:23790"]}]}"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).member_list(&r)),
            format!("{want}\n")
        );
        let t = text(Printer::new(Format::Table, false).member_list(&r));
        let want = "\
+------------------+---------+---------+------------------------+------------------------+------------+
|        ID        | STATUS  |  NAME   |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+---------+---------+------------------------+------------------------+------------+
| 2e1259d415f2a040 | started | default | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |
+------------------+---------+---------+------------------------+------------------------+------------+
";
        assert_eq!(t, want);
    }

    #[test]
    fn endpoint_status_and_health() {
        let s = EpStatus {
            ep: "127.0.0.1:23790".into(),
            resp: StatusResponse {
                header: header(5),
                version: "3.4.23".into(),
                db_size: 20480,
                leader: 3319814642761637952,
                raft_index: 9,
                raft_term: 2,
                raft_applied_index: 9,
                errors: vec![],
                db_size_in_use: 16384,
                is_learner: false,
            },
        };
        assert_eq!(
            text(simple().endpoint_status(std::slice::from_ref(&s))),
            "127.0.0.1:23790, 2e1259d415f2a040, 3.4.23, 20 kB, true, false, 2, 9, 9, \n"
        );
        let want = r#"[{"Endpoint":"127.0.0.1:23790","Status":{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":3319814642761637952,"raftIndex":9,"raftTerm":2,"raftAppliedIndex":9,"dbSizeInUse":16384}}]"#;
        assert_eq!(
            text(Printer::new(Format::Json, false).endpoint_status(std::slice::from_ref(&s))),
            format!("{want}\n")
        );
        let t = text(Printer::new(Format::Table, false).endpoint_status(&[s]));
        assert!(t.contains(
            "|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |"
        ), "{t}");
        assert!(t.contains("| 127.0.0.1:23790 | 2e1259d415f2a040 |  3.4.23 |   20 kB |      true |      false |         2 |          9 |                  9 |        |"), "{t}");

        let h = EpHealth {
            ep: "127.0.0.1:2379".into(),
            health: true,
            took: "1.2ms".into(),
            error: String::new(),
        };
        let (out, err) = simple()
            .endpoint_health(std::slice::from_ref(&h))
            .expect("renders");
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&err),
            "127.0.0.1:2379 is healthy: successfully committed proposal: took = 1.2ms\n"
        );
        let (out, _) = Printer::new(Format::Json, false)
            .endpoint_health(&[h])
            .expect("renders");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "[{\"endpoint\":\"127.0.0.1:2379\",\"health\":true,\"took\":\"1.2ms\"}]\n"
        );
    }

    #[test]
    fn fields_get() {
        let r = RangeResponse {
            header: header(9),
            kvs: vec![kv("k", "v", 4, 4, 1)],
            more: false,
            count: 1,
        };
        let want = "\"ClusterID\" : 324952591200643719\n\"MemberID\" : 3319814642761637952\n\"Revision\" : 9\n\"RaftTerm\" : 2\n\"Key\" : \"k\"\n\"CreateRevision\" : 4\n\"ModRevision\" : 4\n\"Version\" : 1\n\"Value\" : \"v\"\n\"Lease\" : 0\n\"More\" : false\n\"Count\" : 1\n";
        assert_eq!(text(Printer::new(Format::Fields, false).get(&r)), want);
    }

    #[test]
    fn humanized_sizes_and_lease_ids() {
        assert_eq!(human_bytes(5), "5 B");
        assert_eq!(human_bytes(20480), "20 kB");
        assert_eq!(human_bytes(1234), "1.2 kB");
        assert_eq!(human_bytes(25_000_000), "25 MB");
        assert_eq!(lease_hex(0x694d5d3f8b0e6c1b), "694d5d3f8b0e6c1b");
        assert_eq!(lease_hex(1), "0000000000000001");
    }

    #[test]
    fn unknown_formats_fail_with_bad_feature() {
        let e = Format::parse("yaml").expect_err("unknown");
        assert_eq!(e.code, ExitCode::BadFeature);
        assert_eq!(Format::parse("table").ok(), Some(Format::Table));
    }
}
