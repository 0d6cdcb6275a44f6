//! Decoder for the Kubernetes protobuf envelope (`k8s\0` + runtime.Unknown) and the few built-in
//! kinds kubectl's typed clients send as protobuf bodies (`kubectl create configmap|secret|namespace|
//! serviceaccount`). Responses are always JSON, which those clients accept too.

use base64::Engine;
use serde_json::{Map, Value, json};

/// Errors decoding a protobuf body.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("protobuf body is truncated or malformed")]
    Malformed,
    #[error("protobuf body lacks the k8s envelope")]
    NoEnvelope,
    #[error("protobuf decoding of {0} is not supported by the devcluster; send JSON")]
    Unsupported(String),
}

struct Reader<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut out = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(ProtoError::Malformed)?;
            self.buf = rest;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(ProtoError::Malformed)
    }

    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, ProtoError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtoError::Malformed)?;
                if len > self.buf.len() {
                    return Err(ProtoError::Malformed);
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(b)
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if n > self.buf.len() {
                    return Err(ProtoError::Malformed);
                }
                self.buf = &self.buf[n..];
                Field::Fixed
            }
            _ => return Err(ProtoError::Malformed),
        };
        Ok(Some((num, field)))
    }
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtoError> {
    let mut r = Reader { buf };
    let mut out = Vec::new();
    while let Some(f) = r.next()? {
        out.push(f);
    }
    Ok(out)
}

fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A map<string, string|bytes> entry.
fn entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), ProtoError> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(b)? {
        if let Field::Bytes(x) = f {
            match n {
                1 => k = string(x),
                2 if bytes_value => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
                2 => v = json!(string(x)),
                _ => {}
            }
        }
    }
    Ok((k, v))
}

fn insert_entry(
    m: &mut Map<String, Value>,
    key: &str,
    b: &[u8],
    bytes_value: bool,
) -> Result<(), ProtoError> {
    let (k, v) = entry(b, bytes_value)?;
    if let Some(obj) = m.entry(key).or_insert_with(|| json!({})).as_object_mut() {
        obj.insert(k, v);
    }
    Ok(())
}

fn push(m: &mut Map<String, Value>, key: &str, v: Value) {
    if let Some(a) = m.entry(key).or_insert_with(|| json!([])).as_array_mut() {
        a.push(v);
    }
}

fn owner_ref(b: &[u8]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                m.insert("kind".into(), json!(string(x)));
            }
            (3, Field::Bytes(x)) => {
                m.insert("name".into(), json!(string(x)));
            }
            (4, Field::Bytes(x)) => {
                m.insert("uid".into(), json!(string(x)));
            }
            (5, Field::Bytes(x)) => {
                m.insert("apiVersion".into(), json!(string(x)));
            }
            (6, Field::Varint(v)) => {
                m.insert("controller".into(), json!(v != 0));
            }
            (7, Field::Varint(v)) => {
                m.insert("blockOwnerDeletion".into(), json!(v != 0));
            }
            _ => {}
        }
    }
    Ok(Value::Object(m))
}

fn object_meta(b: &[u8]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                m.insert("name".into(), json!(string(x)));
            }
            (2, Field::Bytes(x)) => {
                m.insert("generateName".into(), json!(string(x)));
            }
            (3, Field::Bytes(x)) => {
                m.insert("namespace".into(), json!(string(x)));
            }
            (6, Field::Bytes(x)) => {
                m.insert("resourceVersion".into(), json!(string(x)));
            }
            (11, Field::Bytes(x)) => insert_entry(&mut m, "labels", x, false)?,
            (12, Field::Bytes(x)) => insert_entry(&mut m, "annotations", x, false)?,
            (13, Field::Bytes(x)) => push(&mut m, "ownerReferences", owner_ref(x)?),
            (14, Field::Bytes(x)) => push(&mut m, "finalizers", json!(string(x))),
            _ => {}
        }
    }
    // proto2 encoders emit empty optional strings; JSON clients would have left them out.
    m.retain(|_, v| v.as_str() != Some(""));
    Ok(Value::Object(m))
}

fn local_ref(b: &[u8]) -> Result<Value, ProtoError> {
    let mut name = String::new();
    for (n, f) in fields(b)? {
        if let (1, Field::Bytes(x)) = (n, f) {
            name = string(x);
        }
    }
    Ok(json!({"name": name}))
}

fn decode_kind(kind: &str, raw: &[u8]) -> Result<Map<String, Value>, ProtoError> {
    let mut m = Map::new();
    for (n, f) in fields(raw)? {
        match (kind, n, f) {
            (_, 1, Field::Bytes(x)) => {
                m.insert("metadata".into(), object_meta(x)?);
            }
            ("ConfigMap", 2, Field::Bytes(x)) => insert_entry(&mut m, "data", x, false)?,
            ("ConfigMap", 3, Field::Bytes(x)) => insert_entry(&mut m, "binaryData", x, true)?,
            ("ConfigMap" | "Secret", 4 | 5, Field::Varint(v)) if !(kind == "Secret" && n == 4) => {
                m.insert("immutable".into(), json!(v != 0));
            }
            ("Secret", 2, Field::Bytes(x)) => insert_entry(&mut m, "data", x, true)?,
            ("Secret", 3, Field::Bytes(x)) => {
                m.insert("type".into(), json!(string(x)));
            }
            ("Secret", 4, Field::Bytes(x)) => insert_entry(&mut m, "stringData", x, false)?,
            ("ServiceAccount", 2, Field::Bytes(x)) => push(&mut m, "secrets", local_ref(x)?),
            ("ServiceAccount", 3, Field::Bytes(x)) => {
                push(&mut m, "imagePullSecrets", local_ref(x)?)
            }
            ("ServiceAccount", 4, Field::Varint(v)) => {
                m.insert("automountServiceAccountToken".into(), json!(v != 0));
            }
            ("ConfigMap" | "Secret" | "ServiceAccount" | "Namespace", _, _) => {}
            _ => return Err(ProtoError::Unsupported(kind.to_string())),
        }
    }
    Ok(m)
}

/// Decodes a `application/vnd.kubernetes.protobuf` body into the equivalent JSON object.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body.strip_prefix(b"k8s\0").ok_or(ProtoError::NoEnvelope)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(rest)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in fields(tm)? {
                    match (tn, tf) {
                        (1, Field::Bytes(x)) => api_version = string(x),
                        (2, Field::Bytes(x)) => kind = string(x),
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut m = decode_kind(&kind, raw)?;
    m.insert("apiVersion".into(), json!(api_version));
    m.insert("kind".into(), json!(kind));
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, b: &[u8]) -> Vec<u8> {
        let mut out = vec![
            u8::try_from(n << 3 | 2).unwrap(),
            u8::try_from(b.len()).unwrap(),
        ];
        out.extend_from_slice(b);
        out
    }

    #[test]
    fn decodes_a_secret() {
        let meta = [
            field(1, b"s1"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &[field(1, b"k"), field(2, b"\x00\x01")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let tm = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &tm), field(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "s1");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["data"]["k"], "AAE=");
        assert_eq!(v["type"], "Opaque");
        assert!(decode(b"k8s\0\x0a\x05ab").is_err());
    }
}
