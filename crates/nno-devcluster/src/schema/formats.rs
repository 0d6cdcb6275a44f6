//! The string `format`s the apiextensions apiserver validates (its `supportedFormats`), with its semantics.
//!
//! Any other format (`int32`, `int64`, `float`, `regex`, ...) is not checked by the apiserver, so it is
//! dropped before the schema reaches the JSON Schema validator.

use base64::Engine;

/// Prefix under which the formats are registered with `jsonschema`, so that its own built-in format
/// checks (which differ from Go's) never apply.
pub const PREFIX: &str = "k8s-";

/// Names of the formats the apiserver checks, as written in schemas.
pub const SUPPORTED: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
];

/// The checker for a supported format name.
pub fn checker(name: &str) -> Option<fn(&str) -> bool> {
    Some(match name {
        "bsonobjectid" => |s| s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit()),
        "uri" => is_uri,
        "email" => is_email,
        "hostname" => is_hostname,
        "ipv4" => |s| s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => |s| s.contains(':') && s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => is_cidr,
        "mac" => is_mac,
        "uuid" => |s| is_uuid(s, None),
        "uuid3" => |s| is_uuid(s, Some('3')),
        "uuid4" => |s| is_uuid(s, Some('4')),
        "uuid5" => |s| is_uuid(s, Some('5')),
        "isbn" => |s| is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10,
        "isbn13" => is_isbn13,
        "creditcard" => is_creditcard,
        "ssn" => is_ssn,
        "hexcolor" => is_hexcolor,
        "rgbcolor" => is_rgbcolor,
        "byte" => |s| base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "password" => |_| true,
        "date" => |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "duration" => is_duration,
        "datetime" | "date-time" => is_datetime,
        _ => return None,
    })
}

/// Go `url.ParseRequestURI`: an absolute URI (with scheme) or an absolute path, no spaces.
fn is_uri(s: &str) -> bool {
    if s.is_empty() || s.contains([' ', '\t', '\n']) {
        return false;
    }
    if s.starts_with('/') {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, rest)) => {
            let mut cs = scheme.chars();
            cs.next().is_some_and(|c| c.is_ascii_alphabetic())
                && cs.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
        }
        None => false,
    }
}

/// Go `mail.ParseAddress`, for the forms people write: `local@domain` or `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let addr = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(i), Some(inner)) => &inner[i + 1..],
        _ => s,
    };
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !addr.contains(char::is_whitespace)
                && !local.contains(['<', '>', '(', ')', ',', ';', ':', '[', ']', '@'])
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && domain
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-.[]:".contains(c))
        }
        None => false,
    }
}

/// RFC 1123 host name (the strfmt rule): dot-separated labels of letters, digits and inner dashes.
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// Go `net.ParseMAC`: 6, 8 or 20 octets separated by `:` or `-`, or dot-separated groups of 4 hex digits.
fn is_mac(s: &str) -> bool {
    let octets_ok = |n: usize| [6, 8, 20].contains(&n);
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() > 1 {
            return octets_ok(parts.len())
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
    let groups: Vec<&str> = s.split('.').collect();
    octets_ok(groups.len() * 2)
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// strfmt's UUID regexes: 8-4-4-4-12 hex digits, dashes optional, any case; versioned forms pin the
/// version digit (and the variant for v4/v5).
fn is_uuid(s: &str, version: Option<char>) -> bool {
    let mut rest = s;
    let mut groups = Vec::with_capacity(5);
    for (i, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('-').unwrap_or(rest);
        }
        if rest.len() < len || !rest.is_char_boundary(len) {
            return false;
        }
        let (g, r) = rest.split_at(len);
        if !g.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
        groups.push(g);
        rest = r;
    }
    if !rest.is_empty() {
        return false;
    }
    match version {
        None => true,
        Some(v) => {
            let version_ok = groups[2].starts_with(v);
            let variant_ok = v == '3' || groups[3].starts_with(['8', '9', 'a', 'b', 'A', 'B']);
            version_ok && variant_ok
        }
    }
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 || !d[..9].iter().all(char::is_ascii_digit) {
        return false;
    }
    let mut sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u32 + 1) * c.to_digit(10).unwrap_or(0))
        .sum();
    sum += match d[9] {
        'X' => 100,
        c => match c.to_digit(10) {
            Some(n) => 10 * n,
            None => return false,
        },
    };
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 || !d.iter().all(char::is_ascii_digit) {
        return false;
    }
    let sum: u32 = d[..12]
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == d[12].to_digit(10).unwrap_or(99)
}

/// Card numbers: the digits (other characters ignored, as govalidator does), 13 to 19 of them, Luhn checksum.
fn is_creditcard(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `^\d{3}[- ]?\d{2}[- ]?\d{4}$`
fn is_ssn(s: &str) -> bool {
    let mut rest = s;
    for (i, len) in [3usize, 2, 4].into_iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(['-', ' ']).unwrap_or(rest);
        }
        if rest.len() < len
            || !rest.is_char_boundary(len)
            || !rest[..len].chars().all(|c| c.is_ascii_digit())
        {
            return false;
        }
        rest = &rest[len..];
    }
    rest.is_empty()
}

fn is_hexcolor(s: &str) -> bool {
    let h = s.strip_prefix('#').unwrap_or(s);
    (h.len() == 3 || h.len() == 6) && h.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_rgbcolor(s: &str) -> bool {
    let Some(inner) = s.strip_prefix("rgb(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// strfmt `ParseDuration`: a Go duration (`1h30m`, `-1.5s`, `300ms`) or `<n> <unit>` (`3 days`, `2w`).
fn is_duration(s: &str) -> bool {
    is_go_duration(s) || is_long_duration(s)
}

fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    let mut any = false;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&&rest[..unit_len]) {
            return false;
        }
        rest = &rest[unit_len..];
        any = true;
    }
    any
}

fn is_long_duration(s: &str) -> bool {
    const UNITS: &[&str] = &[
        "ns",
        "us",
        "µs",
        "ms",
        "s",
        "m",
        "h",
        "d",
        "w",
        "nanosecond",
        "nanoseconds",
        "microsecond",
        "microseconds",
        "millisecond",
        "milliseconds",
        "second",
        "seconds",
        "sec",
        "secs",
        "minute",
        "minutes",
        "min",
        "mins",
        "hour",
        "hours",
        "hr",
        "hrs",
        "day",
        "days",
        "week",
        "weeks",
    ];
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    digits > 0 && UNITS.contains(&s[digits..].trim_start())
}

/// strfmt `ParseDateTime`: RFC 3339 (fractional seconds optional), or the same without a zone.
fn is_datetime(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, s: &str) -> bool {
        checker(name).expect("supported format")(s)
    }

    #[test]
    fn every_supported_format_has_a_checker() {
        for f in SUPPORTED {
            assert!(checker(f).is_some(), "{f}");
        }
        assert!(checker("int32").is_none());
    }

    #[test]
    fn formats_accept_and_reject_like_the_apiserver() {
        let cases: &[(&str, &str, bool)] = &[
            ("email", "ops@example.com", true),
            ("email", "Ops Team <ops@example.com>", true),
            ("email", "not-an-email", false),
            ("email", "a b@example.com", false),
            ("date-time", "2024-05-01T10:00:00Z", true),
            ("date-time", "2024-05-01T10:00:00.123+02:00", true),
            ("datetime", "2024-05-01T10:00:00", true),
            ("date-time", "yesterday", false),
            ("date", "2024-02-29", true),
            ("date", "2023-02-29", false),
            ("uri", "https://example.com/x?y=1", true),
            ("uri", "/relative/path", true),
            ("uri", "example.com", false),
            ("hostname", "db-1.example.com", true),
            ("hostname", "-bad.example.com", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0.256", false),
            ("ipv6", "fe80::1", true),
            ("ipv6", "10.0.0.1", false),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("mac", "00:1a:2b:3c:4d:5e", true),
            ("mac", "00-1a-2b-3c-4d-5e", true),
            ("mac", "001a.2b3c.4d5e", true),
            ("mac", "00:1a:2b", false),
            ("uuid", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", true),
            ("uuid", "1B4E28BA2FA111D2883F0016D3CCA427", true),
            ("uuid", "1b4e28ba-2fa1-11d2-883f", false),
            ("uuid4", "1b4e28ba-2fa1-41d2-883f-0016d3cca427", true),
            ("uuid4", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "not base64!", false),
            ("duration", "1h30m", true),
            ("duration", "300ms", true),
            ("duration", "3 days", true),
            ("duration", "soon", false),
            ("hexcolor", "#a0b1c2", true),
            ("hexcolor", "#a0b1", false),
            ("rgbcolor", "rgb(255, 0, 10)", true),
            ("rgbcolor", "rgb(256,0,0)", false),
            ("bsonobjectid", "507f1f77bcf86cd799439011", true),
            ("bsonobjectid", "507f1f77", false),
            ("ssn", "123-45-6789", true),
            ("ssn", "123456789", true),
            ("ssn", "12-345-6789", false),
            ("isbn10", "0321751043", true),
            ("isbn10", "0321751044", false),
            ("isbn13", "978-0321751041", true),
            ("isbn13", "978-0321751042", false),
            ("creditcard", "4111 1111 1111 1111", true),
            ("creditcard", "4111 1111 1111 1112", false),
            ("password", "anything at all", true),
        ];
        for (format, input, want) in cases {
            assert_eq!(check(format, input), *want, "format {format} on {input:?}");
        }
    }
}
