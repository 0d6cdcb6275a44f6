//! `meta.k8s.io/v1` `Table` rendering from printer columns, as the apiserver's CRD table convertor does.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::jsonpath::JsonPath;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATION_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One printer column (a CRD `additionalPrinterColumns` entry). The Name column is implicit.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    pub priority: i32,
    pub json_path: String,
}

impl PrinterColumn {
    /// One column from a CRD `additionalPrinterColumns` entry; `None` when it lacks a name or its
    /// jsonPath does not parse (the apiserver rejects such CRDs).
    pub fn from_crd(v: &Value) -> Option<Self> {
        let name = v.get("name")?.as_str()?.to_string();
        let json_path = v
            .get("jsonPath")
            .or_else(|| v.get("JSONPath"))?
            .as_str()?
            .to_string();
        JsonPath::parse(&json_path).ok()?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        Some(Self {
            name,
            type_: text("type").unwrap_or_else(|| "string".into()),
            format: text("format"),
            description: text("description"),
            priority: v
                .get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            json_path,
        })
    }

    /// The column definition as a Table header.
    fn definition(&self) -> Value {
        let description = self.description.clone().unwrap_or_else(|| {
            format!(
                "Custom resource definition column (in JSONPath format): {}",
                self.json_path
            )
        });
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format.clone().unwrap_or_default(),
            "description": description,
            "priority": self.priority,
        })
    }
}

/// The columns of a CRD version: its `additionalPrinterColumns` array (or the version object holding it).
pub fn from_crd_columns(v: &Value) -> Vec<PrinterColumn> {
    let cols = v.get("additionalPrinterColumns").unwrap_or(v);
    cols.as_array()
        .map(|a| a.iter().filter_map(PrinterColumn::from_crd).collect())
        .unwrap_or_default()
}

/// The columns the apiserver uses for a CRD version without `additionalPrinterColumns`: Age.
pub fn default_columns() -> Vec<PrinterColumn> {
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: None,
        description: Some(CREATION_DESCRIPTION.into()),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

/// What each row carries in `object` (the request's `includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

/// Renders `objects` as a `Table`: the Name column first, then `columns`. `metadata` is left empty
/// for the caller (resourceVersion, continue).
pub fn render_table(
    columns: &[PrinterColumn],
    objects: &[Value],
    include_object: IncludeObject,
) -> Value {
    render_table_at(columns, objects, include_object, Utc::now())
}

/// [`render_table`] with an explicit "now" for the ages.
pub fn render_table_at(
    columns: &[PrinterColumn],
    objects: &[Value],
    include_object: IncludeObject,
    now: DateTime<Utc>,
) -> Value {
    let paths: Vec<Option<JsonPath>> = columns
        .iter()
        .map(|c| JsonPath::parse(&c.json_path).ok())
        .collect();
    // A built-in kind that places Name itself (events: last, priority 1) gets no leading one.
    let lead_name = !columns.iter().any(|c| c.name == "Name");
    let mut defs = Vec::new();
    if lead_name {
        defs.push(json!({
            "name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0
        }));
    }
    defs.extend(columns.iter().map(PrinterColumn::definition));

    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut cells = Vec::new();
            if lead_name {
                cells.push(
                    obj.pointer("/metadata/name")
                        .cloned()
                        .unwrap_or_else(|| json!("")),
                );
            }
            for (col, path) in columns.iter().zip(&paths) {
                let found = path.as_ref().and_then(|p| p.find(obj).into_iter().next());
                cells.push(found.map_or(Value::Null, |v| cell(&col.type_, v, now)));
            }
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            match include_object {
                IncludeObject::None => {}
                IncludeObject::Object => {
                    row.insert("object".into(), obj.clone());
                }
                IncludeObject::Metadata => {
                    row.insert(
                        "object".into(),
                        json!({
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                        }),
                    );
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

/// A cell for a found value (`cellForJSONValue`; strings print like the JSONPath printer).
fn cell(type_: &str, v: &Value, now: DateTime<Utc>) -> Value {
    match (type_, v) {
        (_, Value::Null) => Value::Null,
        ("string", v) => Value::String(go_print(v)),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_f64().map(|f| json!(f as i64)))
            .unwrap_or(Value::Null),
        ("number", Value::Number(n)) => n.as_f64().map(Value::from).unwrap_or(Value::Null),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Value::String(human_duration(
                now.signed_duration_since(t.with_timezone(&Utc)),
            )),
            Err(_) => Value::String("<invalid>".into()),
        },
        _ => Value::Null,
    }
}

/// Go's `fmt.Print` of a decoded JSON value, as the JSONPath printer writes it.
fn go_print(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_print).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// `duration.HumanDuration` from apimachinery: `45s`, `5m12s`, `17m`, `3h`, `5h10m`, `2d`, `3d4h`, `1y30d`.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}
