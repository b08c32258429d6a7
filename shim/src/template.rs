//! The part of Go's text/template that docker's `--format` flags use,
//! over a JSON value: `{{.A.B}}`, `{{json .A}}`, `{{index .A "k"}}`,
//! pipelines (`{{.A | json}}`), `{{range}}`, `{{if}}`/`{{with}}` with
//! `{{else}}`, variables (`$`, `{{range $k, $v := .M}}`), trim markers
//! (`{{- x -}}`), comments, and docker's functions (json, join, split,
//! lower, upper, title, truncate, println, printf, len, index, eq, ne,
//! not, and, or).
//!
//! Values print as Go prints them: `true`, `3`, `[a b]`, `map[k:v]`,
//! `<nil>` for null, and `<no value>` for a field that does not exist.
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template parsing error: {template:?}: {reason}")]
    Parse { template: String, reason: String },
    #[error("template: executing {template:?}: {reason}")]
    Exec { template: String, reason: String },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If {
        with: bool,
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
struct Pipe {
    /// `$x :=` or `$k, $v :=`.
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Operand>,
}

#[derive(Debug, Clone)]
enum Operand {
    /// `.` followed by fields (`.A.B`).
    Dot(Vec<String>),
    /// `$name` followed by fields.
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    /// `(pipe)` followed by fields.
    Sub(Box<Pipe>, Vec<String>),
}

const FUNCS: &[&str] = &[
    "json", "index", "len", "lower", "upper", "title", "join", "split", "println", "print",
    "printf", "truncate", "eq", "ne", "lt", "le", "gt", "ge", "not", "and", "or",
];

/// docker's `--format` preprocessing: the two-character escapes `\t` and
/// `\n` become a tab and a newline.
pub fn docker_escapes(format: &str) -> String {
    format.replace("\\t", "\t").replace("\\n", "\n")
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let err = |reason: String| TemplateError::Parse {
            template: source.to_string(),
            reason,
        };
        let segs = segment(source).map_err(err)?;
        let mut p = Parser { segs, pos: 0 };
        let (nodes, end) = p.list().map_err(err)?;
        match end {
            Stop::Eof => Ok(Template {
                source: source.to_string(),
                nodes,
            }),
            Stop::End => Err(err("unexpected {{end}}".into())),
            Stop::Else(_) => Err(err("unexpected {{else}}".into())),
        }
    }

    /// Execute the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut ex = Exec {
            vars: vec![("$".to_string(), data.clone())],
            out: String::new(),
        };
        ex.nodes(&self.nodes, &Some(data.clone()))
            .map_err(|reason| TemplateError::Exec {
                template: self.source.clone(),
                reason,
            })?;
        Ok(ex.out)
    }
}

/// Parse and execute in one go.
pub fn render(source: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse(source)?.render(data)
}

// ---- lexing -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// `.A.B` (empty: `.`); `adjacent` = no space before it.
    Field(Vec<String>, bool),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Comma,
}

#[derive(Debug)]
enum Seg {
    Text(String),
    Action(Vec<Tok>),
}

/// Split the source into text and lexed actions, applying trim markers.
fn segment(src: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let text = if trim_next { rest.trim_start() } else { rest };
            segs.push(Seg::Text(text.to_string()));
            break;
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut body = &rest[open + 2..];
        if body.starts_with("- ") || body.starts_with("-\t") || body.starts_with("-\n") {
            text = text.trim_end();
            body = &body[1..];
        }
        if !text.is_empty() {
            segs.push(Seg::Text(text.to_string()));
        }
        let trimmed = body.trim_start();
        if let Some(comment) = trimmed.strip_prefix("/*") {
            let end = comment
                .find("*/")
                .ok_or_else(|| "unclosed comment".to_string())?;
            let after = comment[end + 2..].trim_start();
            let (after, trim) = if let Some(a) = after.strip_prefix("-}}") {
                (a, true)
            } else if let Some(a) = after.strip_prefix("}}") {
                (a, false)
            } else {
                return Err("comment ends before closing delimiter".into());
            };
            trim_next = trim;
            rest = after;
            continue;
        }
        let (toks, after, trim) = lex_action(body)?;
        segs.push(Seg::Action(toks));
        trim_next = trim;
        rest = after;
    }
    Ok(segs)
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lex one action up to `}}`: its tokens, the rest of the source, and
/// whether it ended with the ` -}}` trim marker.
fn lex_action(s: &str) -> Result<(Vec<Tok>, &str, bool), String> {
    let mut toks = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    loop {
        let rest = &s[i..];
        let Some(c) = rest.chars().next() else {
            return Err("unclosed action".into());
        };
        if let Some(after) = rest.strip_prefix("}}") {
            return Ok((toks, after, false));
        }
        if c.is_whitespace() {
            let ws = rest.len() - rest.trim_start().len();
            let after = &rest[ws..];
            if let Some(a) = after.strip_prefix("-}}") {
                return Ok((toks, a, true));
            }
            i += ws;
            spaced = true;
            continue;
        }
        let was_spaced = spaced;
        spaced = false;
        match c {
            '.' => {
                let (fields, n) = lex_fields(rest)?;
                toks.push(Tok::Field(fields, !was_spaced));
                i += n;
            }
            '$' => {
                let name_len = rest[1..]
                    .find(|c: char| !ident_char(c))
                    .unwrap_or(rest.len() - 1);
                let name = format!("${}", &rest[1..1 + name_len]);
                i += 1 + name_len;
                let (fields, n) = if s[i..].starts_with('.') && !s[i..].starts_with("..") {
                    lex_fields(&s[i..])?
                } else {
                    (Vec::new(), 0)
                };
                i += n;
                toks.push(Tok::Var(name, fields));
            }
            '"' => {
                let mut out = String::new();
                let mut chars = rest[1..].char_indices();
                let end = loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some((j, '"')) => break j,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, 'r')) => out.push('\r'),
                            Some((_, '0')) => out.push('\0'),
                            Some((_, c @ ('"' | '\\' | '\''))) => out.push(c),
                            Some((_, c)) => return Err(format!("unknown escape sequence \\{c}")),
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some((_, c)) => out.push(c),
                    }
                };
                toks.push(Tok::Str(out));
                i += end + 2;
            }
            '`' => {
                let end = rest[1..]
                    .find('`')
                    .ok_or_else(|| "unterminated raw quoted string".to_string())?;
                toks.push(Tok::Str(rest[1..1 + end].to_string()));
                i += end + 2;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if rest.starts_with(":=") => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '-' | '+' | '0'..='9' => {
                let n = rest[1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                    .map_or(rest.len(), |n| n + 1);
                toks.push(Tok::Num(rest[..n].to_string()));
                i += n;
            }
            c if ident_char(c) => {
                let n = rest.find(|c: char| !ident_char(c)).unwrap_or(rest.len());
                toks.push(Tok::Ident(rest[..n].to_string()));
                i += n;
            }
            _ => {
                return Err(format!("unexpected {c:?} in command"));
            }
        }
    }
}

/// `.A.B` at the start of `s` (just `.` is dot): the fields and the length.
fn lex_fields(s: &str) -> Result<(Vec<String>, usize), String> {
    let mut fields = Vec::new();
    let mut i = 0;
    while s[i..].starts_with('.') {
        let after = &s[i + 1..];
        let n = after.find(|c: char| !ident_char(c)).unwrap_or(after.len());
        if n == 0 {
            if fields.is_empty() && i == 0 {
                return Ok((fields, 1));
            }
            return Err(format!("bad field syntax at {:?}", &s[..i + 1]));
        }
        fields.push(after[..n].to_string());
        i += 1 + n;
    }
    Ok((fields, i))
}

// ---- parsing ------------------------------------------------------------

enum Stop {
    Eof,
    End,
    /// `{{else}}` with what followed it (`if ...` for `{{else if ...}}`).
    Else(Vec<Tok>),
}

struct Parser {
    segs: Vec<Seg>,
    pos: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
        let mut nodes = Vec::new();
        while self.pos < self.segs.len() {
            let seg = std::mem::replace(&mut self.segs[self.pos], Seg::Text(String::new()));
            self.pos += 1;
            let toks = match seg {
                Seg::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Seg::Action(toks) => toks,
            };
            match toks.first() {
                None => return Err("missing value for command".into()),
                Some(Tok::Ident(k)) if k == "end" => {
                    if toks.len() > 1 {
                        return Err("unexpected tokens after end".into());
                    }
                    return Ok((nodes, Stop::End));
                }
                Some(Tok::Ident(k)) if k == "else" => {
                    return Ok((nodes, Stop::Else(toks[1..].to_vec())));
                }
                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                    let with = k == "with";
                    nodes.push(self.if_like(with, &toks[1..])?);
                }
                Some(Tok::Ident(k)) if k == "range" => {
                    let pipe = parse_pipe(&toks[1..])?;
                    let (body, end) = self.list()?;
                    let otherwise = match end {
                        Stop::End => Vec::new(),
                        Stop::Else(rest) if rest.is_empty() => self.until_end()?,
                        Stop::Else(_) => return Err("unexpected tokens after else".into()),
                        Stop::Eof => return Err("unexpected EOF: range without end".into()),
                    };
                    nodes.push(Node::Range {
                        pipe,
                        body,
                        otherwise,
                    });
                }
                Some(Tok::Ident(k)) if matches!(k.as_str(), "define" | "template" | "block") => {
                    return Err(format!("{k} is not supported"));
                }
                _ => nodes.push(Node::Action(parse_pipe(&toks)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn until_end(&mut self) -> Result<Vec<Node>, String> {
        match self.list()? {
            (nodes, Stop::End) => Ok(nodes),
            (_, Stop::Else(_)) => Err("unexpected second else".into()),
            (_, Stop::Eof) => Err("unexpected EOF: missing end".into()),
        }
    }

    fn if_like(&mut self, with: bool, toks: &[Tok]) -> Result<Node, String> {
        let pipe = parse_pipe(toks)?;
        let (then, end) = self.list()?;
        let otherwise = match end {
            Stop::End => Vec::new(),
            Stop::Else(rest) => match rest.first() {
                None => self.until_end()?,
                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                    vec![self.if_like(k == "with", &rest[1..])?]
                }
                Some(_) => return Err("unexpected tokens after else".into()),
            },
            Stop::Eof => {
                return Err(format!(
                    "unexpected EOF: {} without end",
                    if with { "with" } else { "if" }
                ))
            }
        };
        Ok(Node::If {
            with,
            pipe,
            then,
            otherwise,
        })
    }
}

fn parse_pipe(toks: &[Tok]) -> Result<Pipe, String> {
    let mut decl = Vec::new();
    let mut rest = toks;
    if let Some(pos) = toks.iter().position(|t| *t == Tok::Declare) {
        let names = &toks[..pos];
        for (i, t) in names.iter().enumerate() {
            match t {
                Tok::Var(name, fields) if fields.is_empty() && i % 2 == 0 => {
                    decl.push(name.clone())
                }
                Tok::Comma if i % 2 == 1 => {}
                _ => return Err("bad variable declaration".into()),
            }
        }
        if decl.is_empty() || decl.len() > 2 {
            return Err("bad variable declaration".into());
        }
        rest = &toks[pos + 1..];
    }
    let mut cmds = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in rest.iter().enumerate() {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            Tok::Pipe if depth == 0 => {
                cmds.push(parse_cmd(&rest[start..i])?);
                start = i + 1;
            }
            _ => {}
        }
    }
    cmds.push(parse_cmd(&rest[start..])?);
    Ok(Pipe { decl, cmds })
}

fn parse_cmd(toks: &[Tok]) -> Result<Cmd, String> {
    if toks.is_empty() {
        return Err("missing value for command".into());
    }
    let mut args = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let op = match &toks[i] {
            Tok::Field(f, _) => Operand::Dot(f.clone()),
            Tok::Var(n, f) => Operand::Var(n.clone(), f.clone()),
            Tok::Str(s) => Operand::Lit(Value::String(s.clone())),
            Tok::Num(n) => Operand::Lit(parse_number(n)?),
            Tok::Ident(k) => match k.as_str() {
                "true" => Operand::Lit(Value::Bool(true)),
                "false" => Operand::Lit(Value::Bool(false)),
                "nil" => Operand::Lit(Value::Null),
                f if FUNCS.contains(&f) => Operand::Func(f.to_string()),
                f => return Err(format!("function {f:?} not defined")),
            },
            Tok::LParen => {
                let mut depth = 0usize;
                let mut close = None;
                for (j, t) in toks.iter().enumerate().skip(i) {
                    match t {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close = close.ok_or_else(|| "unclosed left paren".to_string())?;
                let inner = parse_pipe(&toks[i + 1..close])?;
                i = close;
                let mut fields = Vec::new();
                if let Some(Tok::Field(f, true)) = toks.get(i + 1) {
                    fields = f.clone();
                    i += 1;
                }
                Operand::Sub(Box::new(inner), fields)
            }
            Tok::RParen => return Err("unexpected right paren".into()),
            Tok::Pipe | Tok::Comma | Tok::Declare => {
                return Err("unexpected token in operand".into())
            }
        };
        if matches!(op, Operand::Func(_)) && !args.is_empty() {
            // A function as an argument is called without arguments in Go;
            // none of ours makes sense that way.
            return Err("a function can only start a command".into());
        }
        args.push(op);
        i += 1;
    }
    Ok(Cmd { args })
}

fn parse_number(n: &str) -> Result<Value, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::from(i));
    }
    match n.parse::<f64>() {
        Ok(f) => Ok(Value::from(f)),
        Err(_) => Err(format!("bad number syntax: {n:?}")),
    }
}

// ---- execution ----------------------------------------------------------

/// A value, or `None` for a field that does not exist (`<no value>`).
type Val = Option<Value>;

struct Exec {
    vars: Vec<(String, Value)>,
    out: String,
}

impl Exec {
    fn nodes(&mut self, nodes: &[Node], dot: &Val) -> Result<(), String> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipe(pipe, dot)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&print(&v));
                    } else {
                        self.vars
                            .push((pipe.decl[0].clone(), v.unwrap_or(Value::Null)));
                    }
                }
                Node::If {
                    with,
                    pipe,
                    then,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let v = self.pipe_declaring(pipe, dot)?;
                    if truthy(&v) {
                        let inner = if *with { v } else { dot.clone() };
                        self.nodes(then, &inner)?;
                    } else {
                        self.nodes(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                } => {
                    let v = self.pipe(pipe, dot)?;
                    let items: Vec<(Value, Value)> = match v {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(a)) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Value::from(i), v))
                            .collect(),
                        Some(Value::Object(m)) => {
                            m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                        }
                        Some(Value::Number(n)) if n.as_u64().is_some() => {
                            (0..n.as_u64().unwrap_or(0))
                                .map(|i| (Value::from(i), Value::from(i)))
                                .collect()
                        }
                        Some(other) => {
                            return Err(format!("range can't iterate over {}", print_value(&other)))
                        }
                    };
                    if items.is_empty() {
                        self.nodes(otherwise, dot)?;
                    }
                    for (key, item) in items {
                        let mark = self.vars.len();
                        match pipe.decl.as_slice() {
                            [v] => self.vars.push((v.clone(), item.clone())),
                            [k, v] => {
                                self.vars.push((k.clone(), key));
                                self.vars.push((v.clone(), item.clone()));
                            }
                            _ => {}
                        }
                        let r = self.nodes(body, &Some(item));
                        self.vars.truncate(mark);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A pipeline whose declared variable stays in scope (if/with).
    fn pipe_declaring(&mut self, pipe: &Pipe, dot: &Val) -> Result<Val, String> {
        let v = self.pipe(pipe, dot)?;
        if let Some(name) = pipe.decl.first() {
            self.vars
                .push((name.clone(), v.clone().unwrap_or(Value::Null)));
        }
        Ok(v)
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Val) -> Result<Val, String> {
        let mut piped: Option<Val> = None;
        for cmd in &pipe.cmds {
            piped = Some(self.cmd(cmd, dot, piped)?);
        }
        Ok(piped.flatten())
    }

    fn cmd(&mut self, cmd: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, String> {
        if let Operand::Func(name) = &cmd.args[0] {
            let mut args = Vec::new();
            for a in &cmd.args[1..] {
                args.push(self.operand(a, dot)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return call(name, args);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            return Err(format!(
                "can't give argument to non-function {}",
                describe(&cmd.args[0])
            ));
        }
        self.operand(&cmd.args[0], dot)
    }

    fn operand(&mut self, op: &Operand, dot: &Val) -> Result<Val, String> {
        match op {
            Operand::Dot(fields) => walk(dot.clone(), fields),
            Operand::Var(name, fields) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable: {name}"))?;
                walk(Some(v), fields)
            }
            Operand::Lit(v) => Ok(Some(v.clone())),
            Operand::Func(name) => call(name, Vec::new()),
            Operand::Sub(pipe, fields) => {
                let v = self.pipe(pipe, dot)?;
                walk(v, fields)
            }
        }
    }
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Dot(f) => format!(".{}", f.join(".")),
        Operand::Var(n, f) if f.is_empty() => n.clone(),
        Operand::Var(n, f) => format!("{n}.{}", f.join(".")),
        Operand::Lit(v) => v.to_string(),
        Operand::Func(n) => n.clone(),
        Operand::Sub(..) => "(...)".into(),
    }
}

fn walk(mut v: Val, fields: &[String]) -> Result<Val, String> {
    for f in fields {
        v = match v {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut m)) => m.remove(f),
            Some(other) => {
                return Err(format!(
                    "can't evaluate field {f} in type {}",
                    type_name(&other)
                ))
            }
        };
    }
    Ok(v)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Go's `%v` of a template value.
fn print(v: &Val) -> String {
    match v {
        None => "<no value>".into(),
        Some(v) => print_value(v),
    }
}

fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", print_value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn string_arg(v: &Val) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        other => print(other),
    }
}

fn int_arg(name: &str, v: &Val) -> Result<i64, String> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("{name}: {n} is not an integer")),
        other => Err(format!("{name}: {} is not an integer", print(other))),
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (None, None) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn compare(name: &str, a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .ok_or_else(|| format!("{name}: incomparable numbers")),
        (Some(Value::String(x)), Some(Value::String(y))) => Ok(x.cmp(y)),
        _ => Err(format!("{name}: incompatible types for comparison")),
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "json" => {
            arity(name, &args, 1)?;
            let v = args[0].clone().unwrap_or(Value::Null);
            s(serde_json::to_string(&v).map_err(|e| e.to_string())?)
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut v = first.clone();
            for key in keys {
                v = match (v, key) {
                    (Some(Value::Object(mut m)), Some(Value::String(k))) => m.remove(k),
                    (Some(Value::Array(a)), Some(Value::Number(n))) => {
                        let i = n.as_u64().ok_or_else(|| format!("index: bad index {n}"))? as usize;
                        Some(
                            a.get(i)
                                .cloned()
                                .ok_or_else(|| format!("index: index out of range: {i}"))?,
                        )
                    }
                    (None | Some(Value::Null), _) => None,
                    (Some(other), k) => {
                        return Err(format!(
                            "index: can't index item of type {} with {}",
                            type_name(&other),
                            print(k)
                        ))
                    }
                };
            }
            Ok(v)
        }
        "len" => {
            arity(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::String(x)) => x.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(m)) => m.len(),
                other => return Err(format!("len of {}", print(other))),
            };
            Ok(Some(Value::from(n)))
        }
        "lower" => {
            arity(name, &args, 1)?;
            s(string_arg(&args[0]).to_lowercase())
        }
        "upper" => {
            arity(name, &args, 1)?;
            s(string_arg(&args[0]).to_uppercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            s(title(&string_arg(&args[0])))
        }
        "join" => {
            arity(name, &args, 2)?;
            let sep = string_arg(&args[1]);
            match &args[0] {
                Some(Value::Array(a)) => s(a
                    .iter()
                    .map(|v| string_arg(&Some(v.clone())))
                    .collect::<Vec<_>>()
                    .join(&sep)),
                None | Some(Value::Null) => s(String::new()),
                other => Err(format!("join: {} is not a list", print(other))),
            }
        }
        "split" => {
            arity(name, &args, 2)?;
            let text = string_arg(&args[0]);
            let sep = string_arg(&args[1]);
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Some(Value::Array(parts)))
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let text = string_arg(&args[0]);
            let n = int_arg(name, &args[1])?.max(0) as usize;
            s(text.chars().take(n).collect())
        }
        "println" => s(format!(
            "{}\n",
            args.iter().map(string_arg).collect::<Vec<_>>().join(" ")
        )),
        "print" => {
            // Go's Sprint: a space between operands when neither is a string.
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Val| matches!(v, Some(Value::String(_)));
                if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
                    out.push(' ');
                }
                out.push_str(&string_arg(a));
            }
            s(out)
        }
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            s(printf(&string_arg(fmt), rest))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            Ok(Some(Value::Bool(
                args[1..].iter().any(|b| equal(&args[0], b)),
            )))
        }
        "ne" => {
            arity(name, &args, 2)?;
            Ok(Some(Value::Bool(!equal(&args[0], &args[1]))))
        }
        "lt" | "le" | "gt" | "ge" => {
            use std::cmp::Ordering::*;
            arity(name, &args, 2)?;
            let o = compare(name, &args[0], &args[1])?;
            let r = match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            };
            Ok(Some(Value::Bool(r)))
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        "and" | "or" => {
            if args.is_empty() {
                return Err(format!("wrong number of args for {name}"));
            }
            let want = name == "or";
            for a in &args {
                if truthy(a) == want {
                    return Ok(a.clone());
                }
            }
            Ok(args.last().cloned().flatten())
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Go's Sprintf for the verbs people use: %s %v %d %q %%.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb) => match next.next() {
                Some(a) => match verb {
                    'q' => out.push_str(&Value::String(string_arg(a)).to_string()),
                    _ => out.push_str(&string_arg(a)),
                },
                None => out.push_str(&format!("%!{verb}(MISSING)")),
            },
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "Id": "abc123",
            "Name": "/web",
            "State": {"Running": true, "ExitCode": 137, "Status": "running", "Pid": 42},
            "Config": {
                "Env": ["A=1", "B=2"],
                "Labels": {"com.example.x": "y", "tier": "front"},
                "Cmd": ["sleep", "1000"],
                "Entrypoint": null
            },
            "Mounts": [],
            "Ratio": 1.5
        })
    }

    fn r(t: &str) -> String {
        render(t, &data()).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn fields_and_literals() {
        assert_eq!(r("{{.State.Running}}"), "true");
        assert_eq!(r("{{.State.ExitCode}}"), "137");
        assert_eq!(r("{{.Id}}"), "abc123");
        assert_eq!(r("id={{.Id}} name={{.Name}}!"), "id=abc123 name=/web!");
        assert_eq!(r("{{.Ratio}}"), "1.5");
        assert_eq!(r("no actions"), "no actions");
        assert_eq!(r(""), "");
        assert_eq!(r("{{ .State.Pid }}"), "42");
    }

    #[test]
    fn go_printing_of_composites_and_missing_values() {
        assert_eq!(r("{{.Config.Env}}"), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}"), "map[com.example.x:y tier:front]");
        assert_eq!(r("{{.Config.Entrypoint}}"), "<nil>");
        assert_eq!(r("{{.Nope}}"), "<no value>");
        assert_eq!(r("{{.Nope.Deeper}}"), "<no value>");
        assert_eq!(r("{{.Mounts}}"), "[]");
    }

    #[test]
    fn json_index_and_pipelines() {
        assert_eq!(r("{{json .Config.Env}}"), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{json .State}}").chars().next(), Some('{'));
        assert_eq!(r("{{.Config.Cmd | json}}"), r#"["sleep","1000"]"#);
        assert_eq!(r("{{json .Nope}}"), "null");
        assert_eq!(r(r#"{{index .Config.Labels "com.example.x"}}"#), "y");
        assert_eq!(r(r#"{{index .Config.Env 1}}"#), "B=2");
        assert_eq!(r(r#"{{index .Config.Labels "none"}}"#), "<no value>");
        assert_eq!(r(r#"{{json (index .Config.Labels "tier")}}"#), r#""front""#);
        assert_eq!(r("{{(.State).Status}}"), "running");
        assert_eq!(r("{{.Name | upper}}"), "/WEB");
        assert_eq!(r("{{lower \"ABC\"}}"), "abc");
        assert_eq!(r("{{title \"hello world\"}}"), "Hello World");
        assert_eq!(r(r#"{{join .Config.Cmd " "}}"#), "sleep 1000");
        assert_eq!(r(r#"{{split "a,b" ","}}"#), "[a b]");
        assert_eq!(r(r#"{{truncate .Id 3}}"#), "abc");
        assert_eq!(r(r#"{{len .Config.Env}}"#), "2");
        assert_eq!(r(r#"{{printf "%s:%d" .Name .State.Pid}}"#), "/web:42");
        assert_eq!(r(r#"{{println .Id}}"#), "abc123\n");
    }

    #[test]
    fn range_if_with_and_variables() {
        assert_eq!(r("{{range .Config.Env}}[{{.}}]{{end}}"), "[A=1][B=2]");
        assert_eq!(
            r("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
            "com.example.x=y;tier=front;"
        );
        assert_eq!(
            r("{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}"),
            "0:sleep 1:1000 "
        );
        assert_eq!(r("{{range .Mounts}}x{{else}}none{{end}}"), "none");
        assert_eq!(r("{{range .Config.Env}}{{$.Id}} {{end}}"), "abc123 abc123 ");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(r("{{if .Nope}}up{{else if .State.Pid}}pid{{end}}"), "pid");
        assert_eq!(
            r(r#"{{if eq .State.Status "exited" "running"}}yes{{end}}"#),
            "yes"
        );
        assert_eq!(r(r#"{{if ne .State.ExitCode 0}}failed{{end}}"#), "failed");
        assert_eq!(r(r#"{{if and .State.Running (not .Nope)}}ok{{end}}"#), "ok");
        assert_eq!(r("{{with .State}}{{.Status}}{{end}}"), "running");
        assert_eq!(r("{{with .Nope}}x{{else}}empty{{end}}"), "empty");
        assert_eq!(r("{{$n := .Name}}{{$n}}"), "/web");
        assert_eq!(r("{{if gt .State.Pid 10}}big{{end}}"), "big");
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(r("a  {{- .Id -}}  b"), "aabc123b");
        assert_eq!(r("a {{/* note */}}b"), "a b");
        assert_eq!(r("{{range .Config.Env -}}\n  {{.}}\n{{- end}}"), "A=1B=2");
        // "-3" is a number, not a trim marker.
        assert_eq!(r("{{eq -3 -3}}"), "true");
    }

    #[test]
    fn escapes_like_docker() {
        assert_eq!(
            docker_escapes(r"{{.ID}}\t{{.Names}}\n"),
            "{{.ID}}\t{{.Names}}\n"
        );
        assert_eq!(r("{{\"a\\tb\"}}"), "a\tb");
    }

    #[test]
    fn clear_errors() {
        let parse = |t: &str| match Template::parse(t) {
            Err(TemplateError::Parse { reason, .. }) => reason,
            other => panic!("{t}: {other:?}"),
        };
        assert!(parse("{{.Id").contains("unclosed action"));
        assert!(parse("{{nosuch .Id}}").contains("function \"nosuch\" not defined"));
        assert!(parse("{{if .Id}}x").contains("without end"));
        assert!(parse("{{end}}").contains("unexpected {{end}}"));
        assert!(parse("{{}}").contains("missing value"));
        assert!(parse("{{\"abc}}").contains("unterminated"));
        assert!(parse("{{.Id # }}").contains("unexpected '#'"));
        let exec = |t: &str| render(t, &data()).unwrap_err().to_string();
        assert!(exec("{{.Id.Foo}}").contains("can't evaluate field Foo in type string"));
        assert!(exec("{{.Id .Name}}").contains("can't give argument to non-function"));
        assert!(exec("{{$x}}").contains("undefined variable: $x"));
        assert!(exec("{{index .Config.Env 5}}").contains("out of range"));
    }
}
