//! Pure validation rules of the 3nv.io API: VM creation parameters (as published by
//! `GET /v1/api/parameters/vm`), S3 bucket names, IP addresses / CIDR prefixes and ports.
//!
//! The published regular expressions use look-ahead, which the `regex` crate lacks, so the rules are
//! written out by hand with the same meaning:
//! - name `^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$`
//! - password `^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,}$` (`.` does not match a line break)
//! - username `^(?=.{1,30}$)[a-zA-Z_][0-9a-zA-Z_-]*$`

use std::net::IpAddr;

use super::errors::{ApiErr, ApiResult};

pub const DISK_MIN: i64 = 20;
pub const DISK_MAX: i64 = 240;
pub const RAM_MIN: i64 = 512;
pub const RAM_MIN_WINDOWS: i64 = 1024;
pub const RAM_MAX: i64 = 65536;
pub const VCPU_MIN: i64 = 1;
pub const VCPU_MIN_WINDOWS: i64 = 2;
pub const VCPU_MAX: i64 = 16;

/// `os_name` → allowed `os_version`s, exactly as `/v1/api/parameters/vm` publishes them.
pub const OS_VERSIONS: &[(&str, &[&str])] = &[
    ("centos", &["7.3.1611", "6.9.1611"]),
    ("ubuntu", &["16.04"]),
    ("windows", &["2016"]),
    ("debian", &["9.1"]),
];

/// Special values that create a VM with an empty disk.
pub const CUSTOM_OS: (&str, &str) = ("_custom", "_");

pub fn vm_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 4
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

pub fn password_ok(pw: &str) -> bool {
    !pw.contains('\n')
        && pw.chars().count() >= 8
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_digit())
}

pub fn username_ok(u: &str) -> bool {
    let b = u.as_bytes();
    (1..=30).contains(&b.len())
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

pub fn check_name(name: &str) -> ApiResult<()> {
    if vm_name_ok(name) {
        Ok(())
    } else {
        Err(ApiErr::invalid(
            "name",
            "must match ^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$",
        ))
    }
}

pub fn check_password(pw: &str) -> ApiResult<()> {
    if password_ok(pw) {
        Ok(())
    } else {
        Err(ApiErr::invalid(
            "password",
            "must be at least 8 characters and contain a lower-case letter, an upper-case letter and a digit",
        ))
    }
}

pub fn check_username(u: &str) -> ApiResult<()> {
    if username_ok(u) {
        Ok(())
    } else {
        Err(ApiErr::invalid(
            "username",
            "must be 1-30 characters of letters, digits, '_' or '-', starting with a letter or '_'",
        ))
    }
}

pub fn check_range(param: &str, v: i64, min: i64, max: i64) -> ApiResult<()> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(ApiErr::invalid(
            param,
            &format!("must be between {min} and {max}"),
        ))
    }
}

/// Checks `os_name`/`os_version` against the published enums.
pub fn check_os(os_name: &str, os_version: &str) -> ApiResult<()> {
    if (os_name, os_version) == CUSTOM_OS {
        return Ok(());
    }
    let Some((_, versions)) = OS_VERSIONS.iter().find(|(n, _)| *n == os_name) else {
        let names: Vec<&str> = OS_VERSIONS.iter().map(|(n, _)| *n).collect();
        return Err(ApiErr::invalid(
            "os_name",
            &format!("must be one of {}", names.join(", ")),
        ));
    };
    if versions.contains(&os_version) {
        Ok(())
    } else {
        Err(ApiErr::invalid(
            "os_version",
            &format!("for {os_name} must be one of {}", versions.join(", ")),
        ))
    }
}

/// vCPU and RAM limits, which depend on the OS.
pub fn check_size(os_name: &str, vcpu: i64, ram: i64) -> ApiResult<()> {
    let windows = os_name == "windows";
    check_range(
        "vcpu",
        vcpu,
        if windows { VCPU_MIN_WINDOWS } else { VCPU_MIN },
        VCPU_MAX,
    )?;
    check_range(
        "ram",
        ram,
        if windows { RAM_MIN_WINDOWS } else { RAM_MIN },
        RAM_MAX,
    )
}

/// S3 bucket naming rules (AWS general purpose buckets).
pub fn bucket_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

/// An IP address or a CIDR prefix (`10.0.0.0/24`, `2001:db8::/32`).
pub fn ip_or_cidr_ok(s: &str) -> bool {
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((addr, len)) => {
            let Ok(ip) = addr.parse::<IpAddr>() else {
                return false;
            };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            len.parse::<u8>().is_ok_and(|l| l <= max) && !len.starts_with('+')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(vm_name_ok("Ubuntu-16-04"));
        assert!(vm_name_ok("web-server"));
        assert!(vm_name_ok("abcd"));
        assert!(!vm_name_ok("abc"));
        assert!(!vm_name_ok("-abc"));
        assert!(!vm_name_ok("abc-"));
        assert!(!vm_name_ok("Name of the Clone"));
        assert!(!vm_name_ok("ab_cd"));
    }

    #[test]
    fn passwords() {
        assert!(password_ok("Password123"));
        assert!(password_ok("Password1234"));
        assert!(!password_ok("Pass123"));
        assert!(!password_ok("password123"));
        assert!(!password_ok("PASSWORD123"));
        assert!(!password_ok("Passwordabc"));
        assert!(!password_ok("Pass\nword123"));
    }

    #[test]
    fn usernames() {
        assert!(username_ok("example"));
        assert!(username_ok("_a"));
        assert!(username_ok("a-b_c9"));
        assert!(!username_ok(""));
        assert!(!username_ok("9abc"));
        assert!(!username_ok("-abc"));
        assert!(!username_ok("a b"));
        assert!(username_ok(&"a".repeat(30)));
        assert!(!username_ok(&"a".repeat(31)));
    }

    #[test]
    fn os_and_sizes() {
        assert!(check_os("ubuntu", "16.04").is_ok());
        assert!(check_os("_custom", "_").is_ok());
        assert!(check_os("ubuntu", "7.3.1611").is_err());
        assert!(check_os("arch", "1").is_err());
        assert!(check_size("windows", 1, 2048).is_err());
        assert!(check_size("windows", 2, 512).is_err());
        assert!(check_size("ubuntu", 1, 512).is_ok());
        assert!(check_size("ubuntu", 17, 512).is_err());
        assert!(check_size("ubuntu", 1, 65537).is_err());
    }

    #[test]
    fn buckets() {
        assert!(bucket_name_ok("pang1"));
        assert!(bucket_name_ok("my.bucket-1"));
        assert!(!bucket_name_ok("ab"));
        assert!(!bucket_name_ok("Upper"));
        assert!(!bucket_name_ok("bucket_name"));
        assert!(!bucket_name_ok("a..b"));
        assert!(!bucket_name_ok("192.168.1.1"));
        assert!(!bucket_name_ok("-abc"));
        assert!(!bucket_name_ok("xn--abc"));
        assert!(!bucket_name_ok(&"a".repeat(64)));
    }

    #[test]
    fn cidrs() {
        assert!(ip_or_cidr_ok("10.0.0.0/24"));
        assert!(ip_or_cidr_ok("10.12.34.5"));
        assert!(ip_or_cidr_ok("2001:db8::/32"));
        assert!(!ip_or_cidr_ok("10.0.0.0/33"));
        assert!(!ip_or_cidr_ok("10.0.0/24"));
        assert!(!ip_or_cidr_ok("any"));
    }
}
