//! OpenAPI schemas of the built-in kinds and of meta/v1, generated from `k8s-openapi`'s schemars support.

use std::sync::OnceLock;

use k8s_openapi::api::{coordination, core, events};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::openapi::KindSchema;

/// Prefix of every `$ref` into the document's components.
pub const REF_PREFIX: &str = "#/components/schemas/";

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    /// The component name (`io.k8s.api.core.v1.Secret`).
    schema_name: String,
}

fn builtin<T: JsonSchema>(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        schema_name: T::schema_name().into_owned(),
    }
}

fn builtins() -> &'static [Builtin] {
    static B: OnceLock<Vec<Builtin>> = OnceLock::new();
    B.get_or_init(|| {
        vec![
            builtin::<core::v1::Namespace>("", "v1", "Namespace", "namespaces", false),
            builtin::<core::v1::Secret>("", "v1", "Secret", "secrets", true),
            builtin::<core::v1::ConfigMap>("", "v1", "ConfigMap", "configmaps", true),
            builtin::<core::v1::Event>("", "v1", "Event", "events", true),
            builtin::<core::v1::ServiceAccount>(
                "",
                "v1",
                "ServiceAccount",
                "serviceaccounts",
                true,
            ),
            builtin::<coordination::v1::Lease>(
                "coordination.k8s.io",
                "v1",
                "Lease",
                "leases",
                true,
            ),
            builtin::<events::v1::Event>("events.k8s.io", "v1", "Event", "events", true),
            builtin::<CustomResourceDefinition>(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            ),
        ]
    })
}

/// All component schemas known from `k8s-openapi`: the built-in kinds, meta/v1 and everything they refer to.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        generator.subschema_for::<core::v1::Namespace>();
        generator.subschema_for::<core::v1::Secret>();
        generator.subschema_for::<core::v1::ConfigMap>();
        generator.subschema_for::<core::v1::Event>();
        generator.subschema_for::<core::v1::ServiceAccount>();
        generator.subschema_for::<coordination::v1::Lease>();
        generator.subschema_for::<events::v1::Event>();
        generator.subschema_for::<CustomResourceDefinition>();
        generator.subschema_for::<meta::ObjectMeta>();
        generator.subschema_for::<meta::ListMeta>();
        generator.subschema_for::<meta::Status>();
        generator.subschema_for::<meta::DeleteOptions>();
        generator.subschema_for::<meta::WatchEvent<()>>();
        generator.subschema_for::<meta::Patch>();
        let mut defs = generator.take_definitions(true);
        for b in builtins() {
            if let Some(Value::Object(schema)) = defs.get_mut(&b.schema_name) {
                schema.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": b.group, "kind": b.kind, "version": b.version}]),
                );
            }
        }
        defs
    })
}

/// The component name of a built-in kind, if `group`/`version`/`kind` is one.
pub fn component_name(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    builtins()
        .iter()
        .find(|b| b.group == group && b.version == version && b.kind == kind)
        .map(|b| b.schema_name.as_str())
}

/// The built-in kinds the devcluster serves. Their `schema` is a `$ref` to the full `k8s-openapi`
/// schema, which [`super::openapi_v3_group_version`] resolves into the document's components.
pub fn builtin_kind_schemas() -> Vec<KindSchema> {
    builtins()
        .iter()
        .map(|b| KindSchema {
            group: b.group.into(),
            version: b.version.into(),
            kind: b.kind.into(),
            plural: b.plural.into(),
            namespaced: b.namespaced,
            schema: json!({"$ref": format!("{REF_PREFIX}{}", b.schema_name)}),
            list_kind: format!("{}List", b.kind),
        })
        .collect()
}
