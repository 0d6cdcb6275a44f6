//! Serde helpers for the 3nv.io DTOs: nulls as defaults, whole numbers given as text.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as `T::default()` (combine with `#[serde(default)]` for absent fields).
pub fn nd<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A whole number that may be sent as a JSON number or as its decimal text (or be null).
pub fn int_or_text<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Int(i)) => Ok(Some(i)),
        #[allow(clippy::cast_possible_truncation)]
        Some(Raw::Float(f)) => Ok(Some(f as i64)),
        Some(Raw::Text(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct T {
        #[serde(deserialize_with = "nd")]
        s: String,
        #[serde(deserialize_with = "int_or_text")]
        n: Option<i64>,
    }

    #[test]
    fn nulls_and_text_numbers() {
        let t: T = serde_json::from_str(r#"{"s":null,"n":"42"}"#).unwrap();
        assert_eq!(t.s, "");
        assert_eq!(t.n, Some(42));
        let t: T = serde_json::from_str(r#"{"n":7}"#).unwrap();
        assert_eq!(t.n, Some(7));
        let t: T = serde_json::from_str(r#"{"n":null}"#).unwrap();
        assert_eq!(t.n, None);
    }
}
