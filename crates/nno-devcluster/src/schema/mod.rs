//! Schema logic of the devcluster: validation of custom resources (openAPIV3Schema + CEL rules),
//! defaulting and pruning, OpenAPI v3 documents for discovery, and `Table` rendering.

mod builtin;
mod cel_rules;
mod crd;
mod defaults;
mod errors;
mod formats;
mod jsonpath;
mod listtype;
mod openapi;
mod table;
mod validate;

pub use builtin::builtin_kind_schemas;
pub use cel_rules::check_crd_rules;
pub use crd::check_crd_version;
pub use defaults::{apply_defaults, prune_unknown};
pub use errors::{
    FieldError, FieldErrorKind, SchemaError, go_quote, invalid_status, status_message,
    strict_decoding_message, unknown_field_warning,
};
pub use jsonpath::JsonPath;
pub use openapi::{
    KindSchema, custom_component_name, gv_path, openapi_v3_group_version, openapi_v3_index,
    openapi_v3_index_for_kinds,
};
pub use table::{
    IncludeObject, PrinterColumn, default_columns, from_crd_columns, human_duration, render_table,
    render_table_at,
};
pub use validate::{CompiledSchema, validate_object};
