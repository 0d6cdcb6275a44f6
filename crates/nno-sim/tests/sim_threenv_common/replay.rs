//! Extraction of the curl examples of the 3nv.io reference, corrections of its typos, and the
//! documented-field type check.

use serde_json::Value;

/// One curl example extracted from the reference.
#[derive(Debug, Clone)]
pub struct Example {
    pub title: String,
    /// The method of the curl command (or GET).
    pub method: String,
    /// The method the "HTTP Request" line documents.
    pub doc_method: Option<String>,
    pub url: String,
    pub form: Vec<String>,
    pub json_body: Option<String>,
    pub expected_status: u16,
    pub expected_json: Option<Value>,
}

pub fn strip_quotes(s: &str) -> String {
    let s = s.trim().trim_end_matches(',');
    let s = s.strip_prefix('"').unwrap_or(s);
    let s = s.strip_suffix('"').unwrap_or(s);
    let s = s.strip_prefix('\'').unwrap_or(s);
    let s = s.strip_suffix('\'').unwrap_or(s);
    s.to_string()
}

pub fn url_in(line: &str) -> Option<String> {
    let i = line.find("https://api.3nv.io")?;
    let rest = &line[i + "https://api.3nv.io".len()..];
    let end = rest
        .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

pub fn method_in(line: &str) -> Option<String> {
    for flag in ["-X ", "--request "] {
        if let Some(i) = line.find(flag) {
            let m: String = line[i + flag.len()..]
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            if !m.is_empty() {
                return Some(m);
            }
        }
    }
    None
}

/// Parses the JSON starting at `lines[0]` (if it starts with `{` or `[`).
pub fn json_at(lines: &[&str]) -> Option<Value> {
    let first = lines.first()?.trim_start();
    if !(first.starts_with('{') || first.starts_with('[')) {
        return None;
    }
    let mut acc = String::new();
    for l in lines.iter().take(400) {
        acc.push_str(l);
        acc.push('\n');
        if let Ok(v) = serde_json::from_str::<Value>(&acc) {
            return Some(v);
        }
    }
    None
}

pub fn parse_examples(text: &str) -> Vec<Example> {
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("curl"))
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(lines.len());
        let title = lines[start - 1].trim().to_string();
        let mut ex = Example {
            title,
            method: String::new(),
            doc_method: None,
            url: String::new(),
            form: Vec::new(),
            json_body: None,
            expected_status: 200,
            expected_json: None,
        };
        let mut i = start;
        let mut in_json: Option<String> = None;
        let mut pending_data = false;
        while i < next {
            let raw = lines[i];
            if raw.starts_with("The above command") {
                break;
            }
            let line = raw.trim_end().trim_end_matches('\\').trim_end();
            if let Some(acc) = in_json.as_mut() {
                acc.push_str(line);
                acc.push('\n');
                if line.trim_end().ends_with('\'') {
                    let body = acc.trim().trim_start_matches('\'').trim_end_matches('\'');
                    ex.json_body = Some(body.to_string());
                    in_json = None;
                    if !raw.trim_end().ends_with('\\') {
                        i += 1;
                        break;
                    }
                }
                i += 1;
                continue;
            }
            if let Some(u) = url_in(line) {
                ex.url = u;
            }
            if let Some(m) = method_in(line) {
                ex.method = m;
            }
            let t = line.trim();
            let data = t
                .strip_prefix("-d ")
                .or_else(|| t.strip_prefix("--data "))
                .map(str::trim)
                .or(if pending_data { Some(t) } else { None });
            if t == "--data" {
                pending_data = true;
            } else if let Some(d) = data {
                pending_data = false;
                if d.starts_with("'{") {
                    let acc = format!("{d}\n");
                    if d.ends_with('\'') {
                        ex.json_body = Some(strip_quotes(d));
                    } else {
                        in_json = Some(acc);
                        i += 1;
                        continue;
                    }
                } else {
                    ex.form.push(strip_quotes(d));
                }
            }
            i += 1;
            // The block goes on after a `\` or when the next line is another option / a body
            // (the reference sometimes forgets the backslash).
            let continues = lines
                .get(i)
                .is_some_and(|n| n.starts_with('-') || n.starts_with('\''));
            if !raw.trim_end().ends_with('\\') && !continues && in_json.is_none() && !pending_data {
                break;
            }
        }
        if ex.method.is_empty() {
            ex.method = "GET".to_string();
        }
        // What follows the command: the documented answer and the HTTP Request line.
        let rest = &lines[i.min(next)..next];
        for (k, l) in rest.iter().enumerate() {
            if l.starts_with("The above command returns HTTP status 204") {
                ex.expected_status = 204;
            }
            if l.contains("Response: HTTP 204") || l.contains("Response: No content") {
                ex.expected_status = 204;
            }
            if l.starts_with("The above command returns") && ex.expected_json.is_none() {
                ex.expected_json = json_at(&rest[k + 1..]);
            }
            if (*l == "HTTP Request" || *l == "HTTP GET Request") && ex.doc_method.is_none() {
                ex.doc_method = rest
                    .get(k + 1)
                    .and_then(|h| h.split_whitespace().next())
                    .map(str::to_string);
            }
        }
        out.push(ex);
    }
    out
}

/// Endpoints outside the simulator's scope (user profile, API tokens, payment).
pub fn out_of_scope(ex: &Example) -> bool {
    // The "Authentication" introduction has a placeholder URL (401 handling is tested in
    // sim_threenv_rules.rs).
    ex.url.is_empty()
        || [
            "/v1/user-resource/user",
            "/v1/user-resource/token",
            "/v1/payment",
            "/v1/credit",
        ]
        .iter()
        .any(|p| ex.url.starts_with(p))
}

/// Corrections of typos in the reference's examples (each one documented).
pub fn correct(ex: &mut Example) {
    // The curl method disagrees with the documented "HTTP Request" line: the latter wins
    // ("Get network data" shows -X POST, "Update Service Package metadata" shows -X GET).
    if let Some(m) = &ex.doc_method
        && *m != ex.method
        && ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str())
    {
        ex.method = m.clone();
    }
    // "Delete Floating IP" omits `/network` in the curl URL.
    if ex.url.starts_with("/v1/ip_addresses/") {
        ex.url = ex
            .url
            .replacen("/v1/ip_addresses/", "/v1/network/ip_addresses/", 1);
    }
}

/// Repairs the malformed JSON bodies of the reference (missing comma or quote, trailing commas,
/// Python `True`).
pub fn repair_json(body: &str) -> String {
    let mut s = body.replace(
        "\"my LB\"\n\"billing_account_id\"",
        "\"my LB\",\n\"billing_account_id\"",
    );
    s = s.replace(", billing_account_id\"", ", \"billing_account_id\"");
    s = s.replace(": True", ": true");
    s = s.replace(",\n}", "\n}");
    s
}

/// Checks that `actual` has every field of `doc` with the same JSON type (null documents no type;
/// an array element must match one of the documented elements).
pub fn check(doc: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (doc, actual) {
        (Value::Null, _) => Ok(()),
        (Value::Object(d), Value::Object(a)) => {
            for (k, dv) in d {
                let av = a
                    .get(k)
                    .ok_or_else(|| format!("{path}.{k}: missing (documented {dv})"))?;
                check(dv, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(d), Value::Array(a)) => {
            if d.is_empty() {
                return Ok(());
            }
            if a.is_empty() {
                return Err(format!("{path}: empty array, documented elements {d:?}"));
            }
            for (i, av) in a.iter().enumerate() {
                let errs: Vec<String> = d
                    .iter()
                    .filter_map(|dv| check(dv, av, &format!("{path}[{i}]")).err())
                    .collect();
                if errs.len() == d.len() {
                    return Err(errs.join(" / "));
                }
            }
            Ok(())
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => Ok(()),
        _ => Err(format!("{path}: documented {doc}, got {actual}")),
    }
}
