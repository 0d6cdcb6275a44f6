//! The create token: derived from the Kubernetes UID, carried in the cloud object's free-text
//! field, so that an object whose create outcome was unknown is found and adopted, never created twice.

/// Annotation set just before a create is sent and cleared once its outcome is known. While it is
/// present the next attempt lists the cloud afresh and adopts by token before creating again.
pub const CREATE_PENDING_ANNOTATION: &str = "nno.app/create-pending";

const PREFIX: &str = "[nno:";

/// The token of the object with `uid`.
pub fn for_uid(uid: &str) -> String {
    format!("nno:{uid}")
}

/// `text` with the token appended, e.g. `storefront web server [nno:6c1f…]`.
pub fn embed(text: &str, token: &str) -> String {
    let text = strip(text);
    if text.is_empty() {
        format!("[{token}]")
    } else {
        format!("{text} [{token}]")
    }
}

/// The token embedded in `text`, if any.
pub fn extract(text: &str) -> Option<String> {
    let start = text.rfind(PREFIX)?;
    let rest = &text[start + 1..];
    let end = rest.find(']')?;
    Some(rest[..end].to_owned())
}

/// `text` without an embedded token.
pub fn strip(text: &str) -> &str {
    match text.rfind(PREFIX) {
        Some(i) if text.ends_with(']') => text[..i].trim_end(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_extract_strip() {
        let t = for_uid("6c1f2a90-1111-2222-3333-444455556666");
        let d = embed("storefront web server", &t);
        assert_eq!(
            d,
            "storefront web server [nno:6c1f2a90-1111-2222-3333-444455556666]"
        );
        assert_eq!(extract(&d), Some(t.clone()));
        assert_eq!(strip(&d), "storefront web server");
        assert_eq!(embed("", &t), format!("[{t}]"));
        assert_eq!(extract(&embed("", &t)), Some(t.clone()));
        // Re-embedding replaces rather than stacks.
        assert_eq!(embed(&d, &t), d);
        assert_eq!(extract("no token here"), None);
        assert_eq!(extract("[nno:unterminated"), None);
    }
}
