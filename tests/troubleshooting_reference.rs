//! README.md's "Troubleshooting by condition reason" table cannot go stale: every condition reason
//! the operator can set appears in its first column, and it lists no reason the operator never sets.
//!
//! Reasons are `&'static str` literals in src/controllers/, written in a few ways, all collected:
//! `State::no("Reason", ..)` / `State::yes("Reason", ..)` (conditions), `reason: "Reason"` (the
//! pending changes of a kind), `ReconcileError::Pending("Reason", ..)`, `Some(("Reason", ..))` (a
//! kind's `deletion_blocked`) and the `=> "Reason"` arms of `ReconcileError::reason` (error.rs).
//! Unit-test modules (`#[cfg(test)]` and below) are left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The string literals right after each occurrence of `prefix` (whitespace, newlines allowed in
/// between) that look like a reason: CamelCase, letters and digits only.
fn literals_after(text: &str, prefix: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        let t = rest.trim_start();
        let Some(t) = t.strip_prefix('"') else {
            continue;
        };
        let Some(end) = t.find('"') else { continue };
        let lit = &t[..end];
        if lit.starts_with(|c: char| c.is_ascii_uppercase())
            && lit.chars().all(|c| c.is_ascii_alphanumeric())
        {
            out.insert(lit.to_owned());
        }
    }
}

/// Every condition reason the controllers can set.
fn source_reasons() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src/controllers"), &mut files);
    files.sort();
    let mut out = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let text = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        for prefix in [
            "State::no(",
            "State::yes(",
            "reason: ",
            "ReconcileError::Pending(",
            "Some((",
        ] {
            literals_after(text, prefix, &mut out);
        }
        if f.ends_with("controllers/error.rs") {
            let body = &text[text.find("fn reason").expect("ReconcileError::reason")..];
            let body = &body[..body.find("\n    }\n").expect("end of fn reason")];
            literals_after(body, "=> ", &mut out);
        }
    }
    out
}

/// The reasons named (in backticks) in the first column of README's table; a parenthesised note
/// such as "(condition `RemovalNotSupported`)" names a condition type, not a reason.
fn readme_reasons() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Troubleshooting by condition reason")
        .expect("README section Troubleshooting by condition reason");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap();
        let first = match first.find('(') {
            Some(i) => &first[..i],
            None => first,
        };
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.trim().to_owned());
            }
        }
    }
    assert!(out.len() > 10, "no table rows found in:\n{section}");
    out
}

#[test]
fn every_reason_the_operator_sets_is_in_the_readme() {
    let source = source_reasons();
    // The scanner finds reasons of every form (one each), or it is broken.
    for r in [
        "ReconcileSuccess", // State::yes
        "Creating",         // State::no
        "RestartRequired",  // reason: in a pending change
        "S3KeyAmbiguous",   // ReconcileError::Pending
        "BucketNotEmpty",   // deletion_blocked
        "KubernetesError",  // ReconcileError::reason
        "CredentialsValid", // Platform CloudReady
    ] {
        assert!(source.contains(r), "scanner missed {r}: {source:?}");
    }
    let readme = readme_reasons();
    let missing: Vec<&String> = source.difference(&readme).collect();
    assert!(
        missing.is_empty(),
        "README.md's \"Troubleshooting by condition reason\" table lacks reasons the operator sets: {missing:?}"
    );
    let stale: Vec<&String> = readme.difference(&source).collect();
    assert!(
        stale.is_empty(),
        "README.md's troubleshooting table lists reasons the operator never sets: {stale:?}"
    );
}
