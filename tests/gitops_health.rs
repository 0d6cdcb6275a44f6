//! The GitOps health checks of deploy/gitops/ judge every recorded state of tests/fixtures/health/
//! the same way, with real engines:
//!
//! - Argo CD: deploy/gitops/argocd-health.lua runs in a real Lua interpreter (`lua5.4`, from
//!   `NNO_TEST_LUA` or `PATH`) the way Argo CD runs it: the file is the body of a function with
//!   `obj` in scope (here in an environment without `io`/`os`, as Argo CD's sandbox has none), and
//!   returns `hs` with `hs.status` and `hs.message`. argocd-cm-patch.yaml must hold that script
//!   verbatim for all seven kinds.
//! - Flux: the `healthCheckExprs` of deploy/gitops/flux-health-checks.yaml are compiled and
//!   evaluated by the `cel` crate with the object's top-level fields bound as variables and the
//!   status derived the way Flux's `runtime/cel` StatusEvaluator does (observedGeneration first, then
//!   inProgress, failed, current; none true: InProgress).
//!
//! Each fixture's first line says what it must be: `# expect: Healthy|Progressing|Degraded`.
//! Without lua the Argo CD half is skipped with a message, unless `NNO_TEST_REQUIRE_TOOLS` is set
//! (`.ci/run` sets it and installs lua5.4), which makes a missing interpreter a failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

const KINDS: [&str; 7] = [
    "Platform",
    "VirtualMachine",
    "Disk",
    "Bucket",
    "Firewall",
    "LoadBalancer",
    "ServicePackage",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Fixture {
    file: String,
    expect: String,
    obj: Value,
}

/// Every fixture of tests/fixtures/health/, sorted by file name.
fn fixtures() -> Vec<Fixture> {
    let dir = root().join("tests/fixtures/health");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read tests/fixtures/health")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    let out: Vec<Fixture> = files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{file}: the first line must be `# expect: <status>`"))
                .trim()
                .to_owned();
            assert!(
                ["Healthy", "Progressing", "Degraded"].contains(&expect.as_str()),
                "{file}: unknown expected status {expect:?}"
            );
            let obj: Value =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: not YAML: {e}"));
            assert_eq!(obj["apiVersion"], "nno.app/v1alpha1", "{file}");
            Fixture { file, expect, obj }
        })
        .collect();
    assert!(out.len() >= 15, "too few fixtures: {}", out.len());
    out
}

#[test]
fn fixtures_cover_every_kind_and_state() {
    let all = fixtures();
    let mut by_kind: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &all {
        by_kind
            .entry(f.obj["kind"].as_str().unwrap().to_owned())
            .or_default()
            .insert(f.expect.clone());
    }
    for kind in KINDS {
        let states = by_kind.get(kind).cloned().unwrap_or_default();
        assert!(
            states.contains("Healthy"),
            "{kind} has no Healthy fixture: {states:?}"
        );
    }
    for kind in ["VirtualMachine", "Platform"] {
        assert!(
            by_kind[kind].contains("Progressing"),
            "{kind} needs Progressing fixtures"
        );
    }
    assert!(by_kind["VirtualMachine"].contains("Degraded"));
    // The states the checks must tell apart, each present at least once.
    let has = |pred: &dyn Fn(&Value) -> bool| all.iter().any(|f| pred(&f.obj));
    let cond = |o: &Value, t: &str| -> Option<Value> {
        o["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
    };
    assert!(
        has(&|o| o.get("status").is_none()),
        "no fixture without status"
    );
    assert!(
        has(&|o| o["status"]["observedGeneration"].is_i64()
            && o["status"]["observedGeneration"] != o["metadata"]["generation"]),
        "no fixture with status.observedGeneration behind"
    );
    assert!(
        has(&|o| cond(o, "Ready").is_some_and(|c| c["status"] == "True")
            && cond(o, "Synced").is_some_and(|c| c["status"] == "False")),
        "no fixture with Ready=True and Synced=False"
    );
    assert!(
        has(&|o| cond(o, "Ready")
            .is_some_and(|c| c["status"] == "False" && c["reason"] == "Creating")),
        "no fixture with Ready=False Creating"
    );
    assert!(
        has(&|o| cond(o, "Stalled").is_some_and(|c| c["status"] == "True")),
        "no Stalled fixture"
    );
    assert!(
        has(&|o| o["metadata"].get("deletionTimestamp").is_some()),
        "no deleting fixture"
    );
    assert!(
        has(
            &|o| o["status"]["observedGeneration"] == o["metadata"]["generation"]
                && cond(o, "Ready")
                    .is_some_and(|c| c["observedGeneration"] != o["metadata"]["generation"])
        ),
        "no fixture whose conditions' observedGeneration is behind"
    );
}

// ---------------------------------------------------------------------------------------------
// Argo CD (Lua)

/// The Lua interpreter: `NNO_TEST_LUA`, else `lua5.4` on PATH. `.ci/run` installs it and sets
/// `NNO_TEST_REQUIRE_TOOLS`, which makes a missing one a failure; a plain `cargo test` says so and
/// skips the Lua part.
fn lua() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NNO_TEST_LUA").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("lua5.4"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Some(p),
        None if std::env::var_os("NNO_TEST_REQUIRE_TOOLS").is_some() => panic!(
            "NNO_TEST_REQUIRE_TOOLS is set but there is no lua5.4 on PATH and NNO_TEST_LUA is not set (apt-get install lua5.4)"
        ),
        None => {
            eprintln!(
                "!!! gitops_health: no lua5.4 on PATH and NNO_TEST_LUA is not set (apt-get install lua5.4): \
                 the Argo CD health script is NOT tested"
            );
            None
        }
    }
}

/// A Lua string literal for `s`: quotes, backslashes and control characters escaped (decimal
/// escapes, three digits so that a following digit cannot join them), UTF-8 kept as it is (Lua
/// strings are bytes).
fn lua_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A Lua table constructor for a JSON value, as Argo CD hands objects to its scripts: objects and
/// arrays become tables (arrays 1-based), `null` becomes nil (the key is left out).
fn lua_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                let f = n.as_f64().expect("finite number");
                out.push_str(&format!("{f:?}"));
            }
        }
        Value::String(s) => lua_string(s, out),
        Value::Array(items) => {
            out.push('{');
            for item in items {
                lua_value(item, out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Object(map) => {
            out.push('{');
            for (k, item) in map {
                if item.is_null() {
                    continue;
                }
                out.push('[');
                lua_string(k, out);
                out.push_str("]=");
                lua_value(item, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

/// What the script returned for `obj`, run as Argo CD runs it: (hs.status, hs.message, and the
/// object's metadata.name and JSON-encoded annotations as Lua saw them, to check the conversion).
fn run_lua(bin: &Path, script: &Path, obj: &Value) -> (String, String, String) {
    let mut literal = String::new();
    lua_value(obj, &mut literal);
    let wrapper = format!(
        r#"
local OBJ = {literal}
local f = assert(io.open({script}, "rb"))
local src = f:read("a")
f:close()
-- Argo CD's sandbox: no io, os, require or load; obj in scope.
local env = {{
  obj = OBJ, ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring,
  tonumber = tonumber, select = select, error = error, pcall = pcall, unpack = table.unpack,
  string = string, table = table, math = math,
}}
local chunk = assert(load(src, "=argocd-health.lua", "t", env))
local hs = chunk()
assert(type(hs) == "table", "the script must return a table, got " .. type(hs))
local function one_line(s) return (tostring(s):gsub("\n", " ")) end
print(one_line(hs.status))
print(one_line(hs.message))
print(one_line(OBJ.metadata.name))
"#,
        script = {
            let mut s = String::new();
            lua_string(script.to_str().unwrap(), &mut s);
            s
        }
    );
    let out = Command::new(bin)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(wrapper.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run lua");
    assert!(
        out.status.success(),
        "lua failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines().map(str::to_owned);
    (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    )
}

#[test]
fn argocd_lua_judges_every_fixture() {
    let Some(bin) = lua() else { return };
    let version = Command::new(&bin).arg("-v").output().expect("lua -v");
    eprintln!(
        "using {} at {}",
        String::from_utf8_lossy(&version.stdout).trim(),
        bin.display()
    );
    let script = root().join("deploy/gitops/argocd-health.lua");
    let mut wrong = Vec::new();
    for f in fixtures() {
        let (status, message, name) = run_lua(&bin, &script, &f.obj);
        assert_eq!(
            name, f.obj["metadata"]["name"],
            "{}: the object did not reach Lua intact",
            f.file
        );
        eprintln!("{:<48} {status:<12} {message}", f.file);
        assert!(
            ["Healthy", "Progressing", "Degraded"].contains(&status.as_str()),
            "{}: hs.status {status:?}",
            f.file
        );
        assert!(
            !message.is_empty() && message != "nil",
            "{}: no hs.message",
            f.file
        );
        if status != f.expect {
            wrong.push(format!(
                "{}: {status} ({message}), want {}",
                f.file, f.expect
            ));
        }
        if status == "Degraded" {
            // The message is the Stalled condition's reason and message.
            let stalled = f.obj["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "Stalled")
                .unwrap();
            let want = format!(
                "{}: {}",
                stalled["reason"].as_str().unwrap(),
                stalled["message"].as_str().unwrap().replace('\n', " ")
            );
            assert_eq!(message, want, "{}", f.file);
        }
    }
    assert!(wrong.is_empty(), "wrong health:\n{}", wrong.join("\n"));
}

#[test]
fn lua_literals_carry_any_string() {
    let Some(bin) = lua() else { return };
    let tricky = "quote \" backslash \\ newline \n tab \t nul-free del \u{7f} é ü → [nno:x] ]]";
    let obj = serde_json::json!({"metadata": {"name": tricky}, "status": null});
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("echo.lua");
    std::fs::write(
        &script,
        "return { status = 'Healthy', message = obj.metadata.name }",
    )
    .unwrap();
    let (status, message, name) = run_lua(&bin, &script, &obj);
    assert_eq!(status, "Healthy");
    let flat = tricky.replace('\n', " ");
    assert_eq!(message, flat);
    assert_eq!(name, flat);
}

#[test]
fn argocd_cm_patch_holds_the_script_for_every_kind() {
    let script = std::fs::read_to_string(root().join("deploy/gitops/argocd-health.lua")).unwrap();
    let text = std::fs::read_to_string(root().join("deploy/gitops/argocd-cm-patch.yaml")).unwrap();
    let cm: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let data = cm["data"].as_object().expect("data");
    let keys: BTreeSet<String> = data.keys().cloned().collect();
    let want: BTreeSet<String> = KINDS
        .iter()
        .map(|k| format!("resource.customizations.health.nno.app_{k}"))
        .collect();
    assert_eq!(keys, want);
    for (k, v) in data {
        assert!(
            v.as_str() == Some(script.as_str()),
            "{k} in deploy/gitops/argocd-cm-patch.yaml differs from deploy/gitops/argocd-health.lua: \
             paste the script there again (indented four spaces under the key)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Flux (CEL)

/// A JSON value as a CEL value, the way Kubernetes' unstructured objects reach cel-go in Flux:
/// integers as int, other numbers as double, objects as maps with string keys.
fn cel_value(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap()),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(cel_value).collect())),
        Value::Object(map) => {
            let m: HashMap<String, cel::Value> =
                map.iter().map(|(k, v)| (k.clone(), cel_value(v))).collect();
            cel::Value::from(m)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flux {
    Current,
    Failed,
    InProgress,
}

struct Exprs {
    in_progress: Option<cel::Program>,
    failed: Option<cel::Program>,
    current: cel::Program,
}

fn compile(kind: &str, name: &str, src: &str) -> cel::Program {
    cel::Program::compile(src)
        .unwrap_or_else(|e| panic!("{kind} {name}: {src:?} does not compile: {e}"))
}

/// The `healthCheckExprs` of deploy/gitops/flux-health-checks.yaml by kind, compiled.
fn flux_exprs() -> BTreeMap<String, Exprs> {
    let text =
        std::fs::read_to_string(root().join("deploy/gitops/flux-health-checks.yaml")).unwrap();
    let k: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(k["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(k["kind"], "Kustomization");
    assert_eq!(
        k["spec"]["wait"], true,
        "healthCheckExprs apply to the objects Flux health-checks: wait: true checks them all"
    );
    let mut out = BTreeMap::new();
    for e in k["spec"]["healthCheckExprs"]
        .as_array()
        .expect("healthCheckExprs")
    {
        assert_eq!(e["apiVersion"], "nno.app/v1alpha1");
        let kind = e["kind"].as_str().expect("kind").to_owned();
        let get = |name: &str| e[name].as_str().map(|s| compile(&kind, name, s));
        let exprs = Exprs {
            in_progress: get("inProgress"),
            failed: get("failed"),
            current: get("current").unwrap_or_else(|| panic!("{kind}: current is required")),
        };
        assert!(
            exprs.in_progress.is_some() && exprs.failed.is_some(),
            "{kind}: inProgress and failed expected"
        );
        assert!(out.insert(kind.clone(), exprs).is_none(), "{kind} twice");
    }
    let kinds: BTreeSet<&str> = out.keys().map(String::as_str).collect();
    assert_eq!(kinds, KINDS.iter().copied().collect::<BTreeSet<_>>());
    out
}

/// Flux's `runtime/cel` StatusEvaluator: InProgress when status.observedGeneration is present and
/// differs from metadata.generation; else the first of inProgress, failed, current that is true;
/// else InProgress. An evaluation error is an error (Flux reports it and keeps waiting).
fn flux_status(exprs: &Exprs, obj: &Value) -> Result<Flux, String> {
    if let (Some(observed), Some(generation)) = (
        obj["status"]["observedGeneration"].as_i64(),
        obj["metadata"]["generation"].as_i64(),
    ) && observed != generation
    {
        return Ok(Flux::InProgress);
    }
    let mut ctx = cel::Context::default();
    for (k, v) in obj.as_object().unwrap() {
        ctx.add_variable_from_value(k.clone(), cel_value(v));
    }
    for (expr, status) in [
        (exprs.in_progress.as_ref(), Flux::InProgress),
        (exprs.failed.as_ref(), Flux::Failed),
        (Some(&exprs.current), Flux::Current),
    ] {
        let Some(expr) = expr else { continue };
        match expr.execute(&ctx) {
            Ok(cel::Value::Bool(true)) => return Ok(status),
            Ok(cel::Value::Bool(false)) => {}
            Ok(other) => return Err(format!("{status:?} is not a boolean: {other:?}")),
            Err(e) => return Err(format!("{status:?}: {e}")),
        }
    }
    Ok(Flux::InProgress)
}

#[test]
fn flux_cel_judges_every_fixture() {
    let exprs = flux_exprs();
    let mut wrong = Vec::new();
    for f in fixtures() {
        let kind = f.obj["kind"].as_str().unwrap();
        let got = match flux_status(&exprs[kind], &f.obj) {
            Ok(s) => s,
            // Flux documents it: `status` is not bound before the object has one, so every
            // expression errors and Flux waits (InProgress in effect). Only then may it error.
            Err(e) if f.obj.get("status").is_none() => {
                eprintln!("{:<48} (evaluation error, Flux waits) {e}", f.file);
                Flux::InProgress
            }
            Err(e) => panic!("{}: {e}", f.file),
        };
        eprintln!("{:<48} {got:?}", f.file);
        let want = match f.expect.as_str() {
            "Healthy" => Flux::Current,
            "Degraded" => Flux::Failed,
            _ => Flux::InProgress,
        };
        if got != want {
            wrong.push(format!("{}: {got:?}, want {want:?}", f.file));
        }
    }
    assert!(wrong.is_empty(), "wrong health:\n{}", wrong.join("\n"));
}

#[test]
fn flux_expressions_decide_without_the_generation_shortcut() {
    // Flux checks status.observedGeneration before the expressions, but the expressions alone must
    // agree (a Flux without that step, or a user copying only them).
    let exprs = flux_exprs();
    for f in fixtures() {
        if f.obj.get("status").is_none() {
            continue;
        }
        let kind = f.obj["kind"].as_str().unwrap();
        let e = &exprs[kind];
        let mut ctx = cel::Context::default();
        for (k, v) in f.obj.as_object().unwrap() {
            ctx.add_variable_from_value(k.clone(), cel_value(v));
        }
        let eval = |p: &cel::Program| match p.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => b,
            other => panic!("{}: {other:?}", f.file),
        };
        let in_progress = eval(e.in_progress.as_ref().unwrap());
        let failed = eval(e.failed.as_ref().unwrap());
        let current = eval(&e.current);
        let got = if in_progress {
            "Progressing"
        } else if failed {
            "Degraded"
        } else if current {
            "Healthy"
        } else {
            "Progressing"
        };
        assert_eq!(got, f.expect, "{}", f.file);
        // current and failed never both hold, whatever the order.
        assert!(!(current && failed), "{}", f.file);
    }
}
