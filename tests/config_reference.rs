//! README.md's configuration reference cannot go stale: every flag (and its environment variable)
//! that `nno-operator run --help` and `nno-operator dev --help` print appears in it, and it names no
//! flag that the commands do not have.

use std::collections::BTreeSet;
use std::process::Command;

/// The `--flags` and `[env: VARS]` of a subcommand's `--help`.
fn help_items(subcommand: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args([subcommand, "--help"])
        .output()
        .expect("run nno-operator --help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags = BTreeSet::new();
    let mut envs = BTreeSet::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('-') {
            for word in t.split([' ', ',', '=', '[', ']', '<']) {
                if let Some(name) = word.strip_prefix("--")
                    && !name.is_empty()
                    && name != "help"
                {
                    flags.insert(format!("--{name}"));
                }
            }
        }
        if let Some(i) = line.find("[env: ") {
            let rest = &line[i + 6..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            envs.insert(name);
        }
    }
    assert!(!flags.is_empty(), "{text}");
    (flags, envs)
}

/// The "Configuration reference" section of README.md.
fn reference() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("\n## Configuration reference")
        .expect("README.md has a `## Configuration reference` section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

#[test]
fn every_flag_and_variable_of_run_and_dev_is_in_the_readme() {
    let section = reference();
    let mut missing = Vec::new();
    for sub in ["run", "dev"] {
        let (flags, envs) = help_items(sub);
        for f in flags {
            if !section.contains(&format!("`{f}`")) {
                missing.push(format!("{sub} {f}"));
            }
        }
        for e in envs {
            if !section.contains(&format!("`{e}`")) {
                missing.push(format!("{sub} {e}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from README.md's configuration reference: {missing:?}"
    );
}

#[test]
fn the_readme_names_no_flag_the_commands_lack() {
    let section = reference();
    let mut known = BTreeSet::new();
    for sub in ["run", "dev"] {
        known.extend(help_items(sub).0);
    }
    // Global flags of every subcommand.
    known.insert("--log-format".to_owned());
    known.insert("--help".to_owned());
    let mut unknown = Vec::new();
    for piece in section.split('`') {
        if let Some(name) = piece.strip_prefix("--") {
            let flag = format!("--{}", name.split(['=', ' ']).next().unwrap_or_default());
            if !known.contains(&flag) {
                unknown.push(flag);
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "README.md's configuration reference names flags that do not exist: {unknown:?}"
    );
}
