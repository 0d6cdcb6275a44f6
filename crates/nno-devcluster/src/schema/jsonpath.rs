//! The JSONPath subset of `additionalPrinterColumns` (Kubernetes' `util/jsonpath` without templates):
//! `.a.b`, escaped dots `.metadata.annotations.nno\.app/external-id`, `['key']`, `[0]`, `[-1]`, `[*]`,
//! `.*`, `..name`, and filters `[?(@.type=="Ready")]` (`==`, `!=`, `<`, `<=`, `>`, `>=`, or existence).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Recursive(String),
    Filter(Filter),
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    path: Vec<Step>,
    cmp: Option<(Op, Value)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed JSONPath.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `expr`; surrounding `{}` and a leading `$` are accepted.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let mut s = expr.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let chars: Vec<char> = s.chars().collect();
        let (steps, end) = parse_steps(&chars, 0, false)?;
        if end != chars.len() {
            return Err(format!("unexpected {:?} at position {end}", chars[end]));
        }
        Ok(Self { steps })
    }

    /// All values the path selects in `root`, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        run(&self.steps, root)
    }
}

/// Parses steps from `i` until the end (or, inside a filter, until an operator or `)`).
fn parse_steps(c: &[char], mut i: usize, in_filter: bool) -> Result<(Vec<Step>, usize), String> {
    let mut steps = Vec::new();
    while i < c.len() {
        match c[i] {
            '.' if c.get(i + 1) == Some(&'.') => {
                let (name, next) = parse_name(c, i + 2);
                if name.is_empty() {
                    return Err("empty name after '..'".into());
                }
                steps.push(Step::Recursive(name));
                i = next;
            }
            '.' => {
                if c.get(i + 1) == Some(&'*') {
                    steps.push(Step::Wildcard);
                    i += 2;
                    continue;
                }
                let (name, next) = parse_name(c, i + 1);
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
                i = next;
            }
            '[' => {
                let (step, next) = parse_bracket(c, i + 1)?;
                steps.push(step);
                i = next;
            }
            ' ' | '=' | '!' | '<' | '>' | ')' if in_filter => break,
            other => return Err(format!("unexpected {other:?} at position {i}")),
        }
    }
    Ok((steps, i))
}

/// A field name up to an unescaped `.` or `[` (or a filter operator); `\.` is a literal dot.
fn parse_name(c: &[char], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 < c.len() => {
                name.push(c[i + 1]);
                i += 2;
            }
            '.' | '[' | ' ' | '=' | '!' | '<' | '>' | ')' => break,
            ch => {
                name.push(ch);
                i += 1;
            }
        }
    }
    (name, i)
}

fn parse_bracket(c: &[char], i: usize) -> Result<(Step, usize), String> {
    let close = |from: usize| -> Result<usize, String> {
        (from..c.len())
            .find(|&j| c[j] == ']')
            .ok_or_else(|| "unclosed '['".to_string())
    };
    match c.get(i) {
        Some('?') => {
            if c.get(i + 1) != Some(&'(') || c.get(i + 2) != Some(&'@') {
                return Err("a filter must look like [?(@.field == value)]".into());
            }
            let (path, mut j) = parse_steps(c, i + 3, true)?;
            while c.get(j) == Some(&' ') {
                j += 1;
            }
            let mut cmp = None;
            if c.get(j) != Some(&')') {
                let (op, len) = match (c.get(j), c.get(j + 1)) {
                    (Some('='), Some('=')) => (Op::Eq, 2),
                    (Some('!'), Some('=')) => (Op::Ne, 2),
                    (Some('<'), Some('=')) => (Op::Le, 2),
                    (Some('>'), Some('=')) => (Op::Ge, 2),
                    (Some('<'), _) => (Op::Lt, 1),
                    (Some('>'), _) => (Op::Gt, 1),
                    _ => return Err(format!("unknown filter operator at position {j}")),
                };
                j += len;
                while c.get(j) == Some(&' ') {
                    j += 1;
                }
                let end = (j..c.len())
                    .find(|&k| c[k] == ')')
                    .ok_or("unclosed filter")?;
                let literal: String = c[j..end].iter().collect();
                cmp = Some((op, parse_literal(literal.trim())?));
                j = end;
            }
            if c.get(j) != Some(&')') || c.get(j + 1) != Some(&']') {
                return Err("unclosed filter".into());
            }
            Ok((Step::Filter(Filter { path, cmp }), j + 2))
        }
        Some(q @ ('\'' | '"')) => {
            let end = (i + 1..c.len())
                .find(|&j| c[j] == *q)
                .ok_or("unclosed quote")?;
            let key: String = c[i + 1..end].iter().collect();
            if c.get(end + 1) != Some(&']') {
                return Err("expected ']' after quoted key".into());
            }
            Ok((Step::Field(key), end + 2))
        }
        Some('*') if c.get(i + 1) == Some(&']') => Ok((Step::Wildcard, i + 2)),
        Some(_) => {
            let end = close(i)?;
            let text: String = c[i..end].iter().collect();
            let n = text
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("unsupported subscript [{text}]"))?;
            Ok((Step::Index(n), end + 1))
        }
        None => Err("unclosed '['".into()),
    }
}

fn parse_literal(s: &str) -> Result<Value, String> {
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Ok(Value::String(inner.to_string()));
    }
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Ok(Value::String(inner.to_string()));
    }
    serde_json::from_str::<Value>(s).map_err(|_| format!("unsupported filter literal {s}"))
}

fn run<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            apply(step, v, &mut next);
        }
        current = next;
    }
    current
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(name) => out.extend(v.get(name.as_str())),
        Step::Index(n) => {
            if let Some(items) = v.as_array() {
                let idx = if *n < 0 { items.len() as i64 + n } else { *n };
                out.extend(usize::try_from(idx).ok().and_then(|i| items.get(i)));
            }
        }
        Step::Wildcard => match v {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Recursive(name) => collect_recursive(name, v, out),
        Step::Filter(f) => {
            if let Some(items) = v.as_array() {
                out.extend(items.iter().filter(|item| matches_filter(f, item)));
            }
        }
    }
}

fn collect_recursive<'a>(name: &str, v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            out.extend(map.get(name));
            map.values().for_each(|c| collect_recursive(name, c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| collect_recursive(name, c, out)),
        _ => {}
    }
}

fn matches_filter(f: &Filter, item: &Value) -> bool {
    let found = run(&f.path, item);
    match &f.cmp {
        None => !found.is_empty(),
        Some((op, lit)) => found.iter().any(|v| compare(v, *op, lit)),
    }
}

fn compare(v: &Value, op: Op, lit: &Value) -> bool {
    match op {
        Op::Eq => values_equal(v, lit),
        Op::Ne => !values_equal(v, lit),
        _ => match (v.as_f64(), lit.as_f64()) {
            (Some(a), Some(b)) => match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(expr: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(expr)
            .expect("parses")
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn simple_fields_indexes_and_quotes() {
        let v = json!({"spec": {"x": 1, "list": [10, 20, 30], "m": {"a.b": "dot"}}});
        assert_eq!(find(".spec.x", &v), vec![json!(1)]);
        assert_eq!(find("{.spec.x}", &v), vec![json!(1)]);
        assert_eq!(find("$.spec.list[1]", &v), vec![json!(20)]);
        assert_eq!(find(".spec.list[-1]", &v), vec![json!(30)]);
        assert_eq!(
            find(".spec.list[*]", &v),
            vec![json!(10), json!(20), json!(30)]
        );
        assert_eq!(find(".spec.m['a.b']", &v), vec![json!("dot")]);
        assert_eq!(find(".spec.missing", &v), Vec::<Value>::new());
        assert_eq!(find("..x", &v), vec![json!(1)]);
    }

    #[test]
    fn escaped_dots_in_annotation_keys() {
        let v = json!({"metadata": {"annotations": {"nno.app/external-id": "vm-123"}}});
        assert_eq!(
            find(r".metadata.annotations.nno\.app/external-id", &v),
            vec![json!("vm-123")]
        );
    }

    #[test]
    fn condition_filters() {
        let v = json!({"status": {"conditions": [
            {"type": "Synced", "status": "True", "observedGeneration": 1},
            {"type": "Ready", "status": "False", "observedGeneration": 2}
        ]}});
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#, &v),
            vec![json!("False")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type == 'Synced')].status", &v),
            vec![json!("True")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type!="Ready")].type"#, &v),
            vec![json!("Synced")]
        );
        assert_eq!(
            find(".status.conditions[?(@.observedGeneration>1)].type", &v),
            vec![json!("Ready")]
        );
        assert_eq!(
            find(".status.conditions[?(@.reason)].type", &v),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in [".a[", ".a[?(@.x==)]", ".a['x'", ".a[abc]", "a b"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
