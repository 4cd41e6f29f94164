//! fleet's HTTP API v1 entities (`schema/v1.json`), shared by fleetd's API server and fleetctl's API driver.
//! Field names and `omitempty` behaviour are fleet's, so fleet's own clients can read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::unit::UnitOption;

/// A unit as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApiUnit {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<UnitOption>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub desired_state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_state: String,
    #[serde(
        default,
        rename = "machineID",
        skip_serializing_if = "String::is_empty"
    )]
    pub machine_id: String,
    /// Flotilla: why the engine cannot place the unit, while it cannot (absent in fleet).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unschedulable_reason: String,
}

/// A unit's state on one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApiUnitState {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    #[serde(
        default,
        rename = "machineID",
        skip_serializing_if = "String::is_empty"
    )]
    pub machine_id: String,
    #[serde(
        default,
        rename = "systemdLoadState",
        skip_serializing_if = "String::is_empty"
    )]
    pub load_state: String,
    #[serde(
        default,
        rename = "systemdActiveState",
        skip_serializing_if = "String::is_empty"
    )]
    pub active_state: String,
    #[serde(
        default,
        rename = "systemdSubState",
        skip_serializing_if = "String::is_empty"
    )]
    pub sub_state: String,
}

/// A machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApiMachine {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(
        default,
        rename = "primaryIP",
        skip_serializing_if = "String::is_empty"
    )]
    pub primary_ip: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Flotilla: the machine's fleet API address (`http://IP:PORT`), used to reach that host's journal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnitPage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<ApiUnit>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnitStatePage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<ApiUnitState>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MachinePage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machines: Vec<ApiMachine>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// The error body of every failed request: `{"error":{"code":404,"message":"unit does not exist"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u16,
    pub message: String,
}

/// One operation of `PATCH /machines` (fleet's nested `"value":{"value":"x"}` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinePatchOp {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: MachinePatchValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MachinePatchValue {
    #[serde(default)]
    pub value: String,
}

/// fleet's page token: `{limit u16, page u16}` little-endian, URL-safe base64 with padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    pub limit: u16,
    pub page: u16,
}

impl PageToken {
    pub fn encode(self) -> String {
        let l = self.limit.to_le_bytes();
        let p = self.page.to_le_bytes();
        base64_url(&[l[0], l[1], p[0], p[1]])
    }

    /// Decodes a token; the error is the message fleet answers 400 with.
    pub fn decode(token: &str, limit: u16) -> Result<PageToken, String> {
        let bytes = base64_url_decode(token)?;
        if bytes.len() < 4 {
            return Err(if bytes.is_empty() {
                "EOF"
            } else {
                "unexpected EOF"
            }
            .to_string());
        }
        let t = PageToken {
            limit: u16::from_le_bytes([bytes[0], bytes[1]]),
            page: u16::from_le_bytes([bytes[2], bytes[3]]),
        };
        if t.limit != limit {
            return Err(format!("token limit must be {limit}"));
        }
        if t.page == 0 {
            return Err("token page must be greater than zero".to_string());
        }
        Ok(t)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_url_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let trimmed = s.trim_end_matches('=');
    if !s.len().is_multiple_of(4) {
        return Err(format!(
            "illegal base64 data at input byte {}",
            s.len() - s.len() % 4
        ));
    }
    for (i, c) in trimmed.bytes().enumerate() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or_else(|| format!("illegal base64 data at input byte {i}"))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_match_fleets_encoding() {
        assert_eq!(
            PageToken {
                limit: 100,
                page: 2
            }
            .encode(),
            "ZAACAA=="
        );
        assert_eq!(
            PageToken {
                limit: 100,
                page: 1
            }
            .encode(),
            "ZAABAA=="
        );
        assert_eq!(
            PageToken::decode("ZAACAA==", 100),
            Ok(PageToken {
                limit: 100,
                page: 2
            })
        );
        assert_eq!(
            PageToken::decode("ZAACAA==", 50),
            Err("token limit must be 50".to_string())
        );
        assert_eq!(
            PageToken::decode("ZAAAAA==", 100),
            Err("token page must be greater than zero".to_string())
        );
        assert_eq!(PageToken::decode("", 100), Err("EOF".to_string()));
        assert_eq!(
            PageToken::decode("ZAA=", 100),
            Err("unexpected EOF".to_string())
        );
        assert!(PageToken::decode("Z!AA", 100)
            .unwrap_err()
            .starts_with("illegal base64 data at input byte"));
    }

    #[test]
    fn entities_serialise_with_fleets_names_and_omit_empty_fields() {
        let u = ApiUnit {
            name: "a.service".into(),
            desired_state: "launched".into(),
            machine_id: "m1".into(),
            ..ApiUnit::default()
        };
        assert_eq!(
            serde_json::to_string(&u).expect("ser"),
            r#"{"name":"a.service","desiredState":"launched","machineID":"m1"}"#
        );
        let s = ApiUnitState {
            name: "a.service".into(),
            load_state: "loaded".into(),
            ..ApiUnitState::default()
        };
        assert_eq!(
            serde_json::to_string(&s).expect("ser"),
            r#"{"name":"a.service","systemdLoadState":"loaded"}"#
        );
        assert_eq!(
            serde_json::to_string(&UnitPage::default()).expect("ser"),
            "{}"
        );
        let m: ApiMachine =
            serde_json::from_str(r#"{"id":"m","primaryIP":"1.2.3.4","metadata":{"a":"b"}}"#)
                .expect("de");
        assert_eq!(m.primary_ip, "1.2.3.4");
        let op: MachinePatchOp =
            serde_json::from_str(r#"{"op":"add","path":"/m/metadata/k","value":{"value":"v"}}"#)
                .expect("de");
        assert_eq!(op.value.value, "v");
    }
}
