//! A service package as the observer holds it: the package from the list with its IP whitelist,
//! which the list leaves out. The whitelist is read only when the package's `updated_at` moved
//! (3nv.io stamps a package when its whitelist changes): once when the new stamp is seen and once
//! more at least [`WHITELIST_SETTLE`] later, because the stamp has a resolution of one second and a
//! second change within that second would not move it. In steady state that is no call at all
//! besides the list.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::service_package::ServicePackage as CloudPackage;

/// How long after a new `updated_at` was first seen a whitelist read counts as complete.
pub const WHITELIST_SETTLE: Duration = Duration::from_millis(1500);
/// Whitelists read at once by the observer (the account's rate limiter paces them further).
pub(super) const WHITELIST_READS: usize = 8;

/// When the whitelist of a [`PackageView`] was read.
#[derive(Debug, Clone)]
pub struct WhitelistRead {
    /// The package's `updated_at` the whitelist belongs to.
    pub stamp: Option<String>,
    /// When that stamp was first seen.
    pub first_seen: Instant,
    /// Whether the read started at least [`WHITELIST_SETTLE`] after `first_seen`.
    pub settled: bool,
    /// The whitelist is what one of our own writes answered (its new `updated_at` not seen yet).
    pub from_write: bool,
}

/// A service package as observed, with its whitelist.
#[derive(Debug, Clone)]
pub struct PackageView {
    pub package: CloudPackage,
    pub whitelist: Vec<String>,
    pub read: WhitelistRead,
}

impl PartialEq for PackageView {
    fn eq(&self, other: &Self) -> bool {
        // When the whitelist was read is bookkeeping, not a change of the cloud object.
        self.package == other.package && self.whitelist == other.whitelist
    }
}

impl PackageView {
    /// A view whose whitelist is re-read on the next list (it changed since `package` was read).
    pub(super) fn unsettled(package: CloudPackage, whitelist: Vec<String>) -> Self {
        Self {
            package,
            whitelist,
            read: WhitelistRead {
                stamp: None,
                first_seen: Instant::now(),
                settled: false,
                from_write: false,
            },
        }
    }

    /// What a create or update of ours answered: `whitelist` is the package's whole whitelist
    /// right after the write, so the next list takes it for the new `updated_at` instead of
    /// reading it, and only the confirming read follows.
    pub(super) fn written(package: CloudPackage, whitelist: Vec<String>) -> Self {
        let mut view = Self::unsettled(package, whitelist);
        view.read.from_write = true;
        view
    }
}

pub(super) fn entries(list: &[String]) -> BTreeSet<String> {
    list.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn render(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

pub(super) fn parse(text: &str) -> BTreeSet<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The package with its whitelist, reusing `previous`'s when it is known to be current.
pub(super) async fn with_whitelist(
    client: &ThreenvClient,
    package: CloudPackage,
    previous: Option<PackageView>,
) -> Result<Option<PackageView>, ApiError> {
    let stamp = package.updated_at.clone();
    let now = Instant::now();
    if let Some(p) = previous
        .as_ref()
        .filter(|p| p.read.from_write && p.read.stamp.is_none())
    {
        // The stamp listed now is the one our write moved to (or a later one, which the
        // confirming read, due WHITELIST_SETTLE from now, catches).
        return Ok(Some(PackageView {
            package,
            whitelist: p.whitelist.clone(),
            read: WhitelistRead {
                stamp,
                first_seen: now,
                settled: false,
                from_write: false,
            },
        }));
    }
    let before = previous
        .as_ref()
        .map(|p| (p.read.stamp.clone(), p.read.settled));
    let first_seen = match &previous {
        Some(p) if p.read.stamp.is_some() && p.read.stamp == stamp => p.read.first_seen,
        _ => now,
    };
    if let Some(p) = previous.filter(|p| p.read.stamp.is_some() && p.read.stamp == stamp)
        && (p.read.settled || now < first_seen + WHITELIST_SETTLE)
    {
        // Settled, or read once already and not yet due for the confirming read.
        return Ok(Some(PackageView { package, ..p }));
    }
    tracing::debug!(
        package = %package.uuid,
        stamp = ?stamp,
        previous = ?before,
        "reading the whitelist"
    );
    let whitelist = match client.service_whitelist(&package.uuid).await {
        Ok(w) => w,
        // Deleted between the list and this read.
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(PackageView {
        package,
        whitelist,
        read: WhitelistRead {
            stamp,
            first_seen,
            settled: now >= first_seen + WHITELIST_SETTLE,
            from_write: false,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(updated: &str) -> CloudPackage {
        CloudPackage {
            uuid: "u1".into(),
            updated_at: Some(updated.into()),
            ..CloudPackage::default()
        }
    }

    #[test]
    fn whitelists_compare_as_sets() {
        let a = entries(&[
            "10.0.0.0/24".into(),
            " 1.2.3.4 ".into(),
            "10.0.0.0/24".into(),
        ]);
        assert_eq!(render(&a), "1.2.3.4,10.0.0.0/24");
        assert_eq!(parse(&render(&a)), a);
        assert!(parse("").is_empty());
    }

    /// A client whose every call fails at once: a call made shows as an error.
    fn unreachable() -> ThreenvClient {
        ThreenvClient::new(
            "http://127.0.0.1:9",
            crate::cloud::Secret::new(String::from("k")),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_written_whitelist_is_taken_for_the_new_stamp_and_confirmed_once() {
        let client = unreachable();
        let written = PackageView::written(pkg("t2"), vec!["1.2.3.4".into()]);
        let seen = with_whitelist(&client, pkg("t2"), Some(written))
            .await
            .expect("no read for the stamp our write moved to")
            .unwrap();
        assert_eq!(seen.whitelist, vec!["1.2.3.4".to_owned()]);
        assert_eq!(seen.read.stamp.as_deref(), Some("t2"));
        assert!(!seen.read.settled && !seen.read.from_write);
        // Before WHITELIST_SETTLE: still no read.
        assert!(
            with_whitelist(&client, pkg("t2"), Some(seen.clone()))
                .await
                .is_ok()
        );
        // Once due, the confirming read goes out (and fails here: nothing listens).
        let mut due = seen;
        due.read.first_seen = Instant::now() - WHITELIST_SETTLE;
        assert!(with_whitelist(&client, pkg("t2"), Some(due)).await.is_err());
    }

    #[tokio::test]
    async fn a_view_not_from_our_write_is_read() {
        let client = unreachable();
        let got = PackageView::unsettled(pkg("t1"), Vec::new());
        assert!(with_whitelist(&client, pkg("t1"), Some(got)).await.is_err());
        assert!(with_whitelist(&client, pkg("t1"), None).await.is_err());
    }

    #[test]
    fn views_compare_without_read_bookkeeping() {
        let a = PackageView::unsettled(pkg("t1"), vec!["1.2.3.4".into()]);
        let mut b = a.clone();
        b.read.settled = true;
        b.read.stamp = Some("t1".into());
        assert_eq!(a, b);
        b.whitelist.push("5.6.7.8".into());
        assert_ne!(a, b);
    }
}
