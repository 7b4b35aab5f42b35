//! The module graph of `src/` has no cycle: a file that names another file (through `use crate::…`,
//! a `crate::…::` path, a `super::…` path or `self::…`) depends on it, and no chain of such
//! dependencies comes back to where it started. A parent's `mod child;` declaration is not an edge;
//! a child's `super::` use of its parent is one (child → parent). A path is resolved to the file of
//! the longest module prefix it names, so `crate::oauth1::signature::Location` is an edge to
//! `src/oauth1/signature.rs` (or `signature/mod.rs`), and `crate::api::POST_BODY_LIMIT` to
//! `src/api/mod.rs`. Comments and string literals are not read.
//!
//! Cycles are found as strongly connected components (Tarjan) and each is reported with the edges
//! that tie it and the names each edge imports. Reads only the source tree: no crate code runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[test]
fn the_module_graph_of_src_has_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = Graph::read(&root);
    let cycles: Vec<String> = graph.cycles().iter().map(|c| graph.describe(c)).collect();
    assert!(
        cycles.is_empty(),
        "module cycles in src/ ({} found):\n{}",
        cycles.len(),
        cycles.join("\n")
    );
}

/// One strongly connected component of more than one file, its files sorted.
struct Cycle {
    files: Vec<String>,
}

struct Graph {
    /// File (relative, e.g. `src/oauth1/verify.rs`) → file it depends on → names imported.
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Graph {
    fn read(src: &Path) -> Self {
        let mut files = Vec::new();
        collect_rs(src, &mut files);
        files.sort();

        // Module path (segments under `crate`) → file that holds it.
        let mut modules: BTreeMap<Vec<String>, String> = BTreeMap::new();
        let mut of_file: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
        for file in &files {
            let name = relative_name(src, file);
            let module = module_path(src, file);
            if let Some(m) = &module {
                modules.insert(m.clone(), name.clone());
            }
            of_file.insert(name, module);
        }

        let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for file in &files {
            let name = relative_name(src, file);
            let text = std::fs::read_to_string(file).expect("read a source file");
            let code = strip_comments_and_strings(&text);
            // `main.rs` is the binary crate: its `crate::` would be itself and it reaches the
            // library as `latchkey::`.
            let (own, crate_words): (Vec<String>, &[&str]) = match &of_file[&name] {
                Some(m) => (m.clone(), &["crate"]),
                None => (Vec::new(), &["latchkey"]),
            };
            let mut aliases: BTreeMap<String, String> = BTreeMap::new();
            for (path, item) in paths(&code, &own, crate_words) {
                let Some(target) = resolve(&modules, &path) else {
                    continue;
                };
                if target == name {
                    continue;
                }
                let names = edges
                    .entry(name.clone())
                    .or_default()
                    .entry(target.clone())
                    .or_default();
                if modules.contains_key(&path) {
                    // A module brought into scope: the names taken from it are `item::name`.
                    aliases.insert(item, target);
                } else {
                    names.insert(item);
                }
            }
            let tokens = tokenize(&code);
            for (k, t) in tokens.iter().enumerate() {
                let (Some(target), Some(sep), Some(item)) =
                    (aliases.get(t), tokens.get(k + 1), tokens.get(k + 2))
                else {
                    continue;
                };
                let after_path = k > 0 && tokens[k - 1] == "::";
                if sep == "::" && !after_path && item.starts_with(|c: char| c.is_alphabetic()) {
                    edges
                        .get_mut(&name)
                        .expect("an edge for each alias")
                        .get_mut(target)
                        .expect("an edge for each alias")
                        .insert(item.clone());
                }
            }
            // A module named only as a whole keeps its own name as the tie.
            for (alias, target) in &aliases {
                let names = edges.get_mut(&name).and_then(|e| e.get_mut(target));
                if let Some(names) = names.filter(|n| n.is_empty()) {
                    names.insert(alias.clone());
                }
            }
        }
        Graph { edges }
    }

    /// Strongly connected components of more than one file (Tarjan's algorithm).
    fn cycles(&self) -> Vec<Cycle> {
        let nodes: BTreeSet<&String> = self
            .edges
            .iter()
            .flat_map(|(from, to)| std::iter::once(from).chain(to.keys()))
            .collect();
        let nodes: Vec<&String> = nodes.into_iter().collect();
        let index_of: BTreeMap<&String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let successors: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                self.edges
                    .get(*n)
                    .map(|to| to.keys().map(|t| index_of[t]).collect())
                    .unwrap_or_default()
            })
            .collect();

        let mut tarjan = Tarjan {
            successors: &successors,
            next: 0,
            index: vec![None; nodes.len()],
            low: vec![0; nodes.len()],
            on_stack: vec![false; nodes.len()],
            stack: Vec::new(),
            components: Vec::new(),
        };
        for v in 0..nodes.len() {
            if tarjan.index[v].is_none() {
                tarjan.visit(v);
            }
        }
        let mut cycles: Vec<Cycle> = tarjan
            .components
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut files: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
                files.sort();
                Cycle { files }
            })
            .collect();
        cycles.sort_by(|a, b| a.files.cmp(&b.files));
        cycles
    }

    /// The cycle's files and, for each edge inside it, the names that tie it.
    fn describe(&self, cycle: &Cycle) -> String {
        let mut out = format!(
            "cycle of {} files: {}",
            cycle.files.len(),
            cycle.files.join(", ")
        );
        for from in &cycle.files {
            for (to, names) in &self.edges[from] {
                if cycle.files.contains(to) {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    out.push_str(&format!("\n  {from} -> {to}: {}", names.join(", ")));
                }
            }
        }
        out
    }
}

struct Tarjan<'a> {
    successors: &'a [Vec<usize>],
    next: usize,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    components: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &self.successors[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            loop {
                let w = self.stack.pop().expect("v is on the stack");
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative_name(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("src/{}", parts.join("/"))
}

/// `src/lib.rs` → `[]`, `src/a/mod.rs` and `src/a.rs` → `[a]`, `src/a/b.rs` → `[a, b]`; `None`
/// for `src/main.rs`, the binary crate.
fn module_path(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "main" => return None,
        [only] if only == "lib" => return Some(Vec::new()),
        _ => {}
    }
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    Some(parts)
}

/// The file of the longest module prefix of `path`.
fn resolve(modules: &BTreeMap<Vec<String>, String>, path: &[String]) -> Option<String> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

/// Source text with comments, string and character literals blanked (newlines and braces of code
/// are kept, so positions and nesting survive).
fn strip_comments_and_strings(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if let Some(end) = raw_string_end(&b, i) {
            out.push_str("\"\"");
            i = end;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former closes.
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(j) => {
                    out.push_str("' '");
                    i = j + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where a raw (byte) string starting at `i` ends (one past its closing quote), if one starts there.
fn raw_string_end(b: &[char], i: usize) -> Option<usize> {
    if i > 0 && is_ident(b[i - 1]) {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&'b') {
        j += 1;
    }
    if b.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if b.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < b.len() {
        if b[j] == '"' && (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(b.len())
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path that starts with a crate word, `super` or `self`, made absolute (segments under
/// `crate`), with the name it ends in. Use trees (`a::{b, c::{d, e}}`) are expanded. `own` is the
/// file's module; inline `mod name { … }` blocks nest below it, so a `super::` inside an inline
/// `mod tests` names the file itself.
fn paths(code: &str, own: &[String], crate_words: &[&str]) -> Vec<(Vec<String>, String)> {
    let tokens = tokenize(code);
    let mut found = Vec::new();
    // Inline modules open at a brace depth: (depth, name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "{" => {
                depth += 1;
                i += 1;
                continue;
            }
            "}" => {
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                inline.push((depth + 1, tokens[i + 1].clone()));
                i += 1;
                continue;
            }
            _ => {}
        }
        let starts_path = (crate_words.contains(&t) || t == "super" || t == "self")
            && tokens.get(i + 1).is_some_and(|n| n == "::")
            && !(i > 0 && tokens[i - 1] == "::");
        if !starts_path {
            i += 1;
            continue;
        }
        let mut here: Vec<String> = own.to_vec();
        here.extend(inline.iter().map(|(_, n)| n.clone()));
        let mut base: Vec<String> = Vec::new();
        let mut j = i;
        loop {
            match tokens[j].as_str() {
                w if crate_words.contains(&w) => base.clear(),
                "super" => {
                    if base.is_empty() && j == i {
                        base = here.clone();
                    }
                    base.pop();
                }
                "self" if j == i => base = here.clone(),
                _ => break,
            }
            if tokens.get(j + 1).is_some_and(|n| n == "::") {
                j += 2;
            } else {
                break;
            }
        }
        let end = use_tree(&tokens, j, base, &mut found);
        i = end.max(i + 1);
    }
    found
}

/// Reads a use tree (or a plain path) from token `j` under `prefix`, pushing each leaf path and its
/// last name; returns the index after it.
fn use_tree(
    tokens: &[String],
    mut j: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<(Vec<String>, String)>,
) -> usize {
    loop {
        let Some(t) = tokens.get(j) else {
            return j;
        };
        if t == "{" {
            j += 1;
            loop {
                match tokens.get(j).map(String::as_str) {
                    None => return j,
                    Some("}") => return j + 1,
                    Some(",") => j += 1,
                    Some(_) => j = use_tree(tokens, j, prefix.clone(), found),
                }
            }
        }
        if t == "*" {
            let name = prefix.last().cloned().unwrap_or_else(|| "crate".into());
            found.push((prefix, format!("{name}::*")));
            return j + 1;
        }
        if !t
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            let name = prefix.last().cloned().unwrap_or_else(|| "crate".into());
            found.push((prefix, name));
            return j;
        }
        if t == "self" {
            // `a::{self, b}`: names module `a` itself.
            let name = prefix.last().cloned().unwrap_or_else(|| "crate".into());
            found.push((prefix, name));
            return j + 1;
        }
        prefix.push(t.clone());
        if tokens.get(j + 1).is_some_and(|n| n == "::") {
            j += 2;
        } else {
            found.push((prefix.clone(), t.clone()));
            return j + 1;
        }
    }
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}
