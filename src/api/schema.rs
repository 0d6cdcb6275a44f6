//! Schema fragments that derive macros cannot express: free-form objects kept verbatim by the API server.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose content the API server keeps as written (cloud-init user-data, package parameters).
pub fn free_form_object(_generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true
    })
}
