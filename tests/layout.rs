//! The house plan, checked: imports between the files of `src/` go one way, down the layers
//! of `docs/ARCHITECTURE.md` (4 commands → 3 train, inspect → 2 run, model, metrics, data → 1
//! config, backend, remote, terminal, error), and no two files import each other, directly or
//! around a ring.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layer of a module (by its first path segment): a file may import its own layer or lower.
fn layer(module: &str) -> u8 {
    match module.split("::").next().unwrap_or("") {
        "" | "commands" => 4, // main.rs, lib.rs and the commands
        "train" | "inspect" | "interop" => 3,
        "run" | "model" | "backprop" | "metrics" | "data" => 2,
        "config" | "backend" | "remote" | "error" | "terminal" | "report" => 1,
        other => panic!("src/{other}: a top-level module the layers do not name; add it"),
    }
}

/// Every `.rs` file under `src/`, by module path (`train::pipeline`; `lib.rs`/`main.rs` are "").
fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let joined = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}::{name}")
        };
        if path.is_dir() {
            modules(&path, &joined, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = match name.as_str() {
                "lib" | "main" => String::new(),
                "mod" => prefix.to_string(),
                _ => joined,
            };
            let text = std::fs::read_to_string(&path).unwrap();
            out.insert(module, text);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests`.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            for item in tree.split(',') {
                let item = item.split(" as ").next().unwrap().trim();
                if !item.is_empty() {
                    out.push(format!("{prefix}{item}"));
                }
            }
        }
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &format!("{prefix}{head}"), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], &format!("{prefix}{head}"), out);
        }
    }
}

/// The crate paths a file's code names: `use crate::...;` trees and inline `crate::a::b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let before = code[..i].trim_end();
        if before.ends_with("use") || before.ends_with("pub use") {
            expand(&rest[..rest.find(';').unwrap()], "", &mut paths);
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            paths.push(rest[..end].trim_end_matches(':').to_string());
        }
    }
    paths
}

/// The file a crate path lives in: its longest prefix that is a module of ours.
fn file_of<'a>(path: &str, modules: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find_map(|candidate| modules.get_key_value(&candidate).map(|(k, _)| k.as_str()))
}

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    files
        .iter()
        .map(|(module, text)| {
            let targets = crate_paths(&code(text))
                .iter()
                .filter_map(|path| file_of(path, &files))
                .filter(|target| !target.is_empty() && target != module)
                .map(str::to_string)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

fn name(module: &str) -> String {
    if module.is_empty() {
        "main.rs/lib.rs".into()
    } else {
        format!("src/{}.rs", module.replace("::", "/"))
    }
}

#[test]
fn imports_go_down_the_layers() {
    let mut upward = Vec::new();
    for (module, targets) in imports() {
        for target in targets {
            if layer(&target) > layer(&module) {
                upward.push(format!("{} imports {}", name(&module), name(&target)));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports going up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_files_import_each_other_around_a_ring() {
    let graph = imports();
    // A path from each file back to itself, by depth-first search from every file.
    fn ring(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        for next in graph.get(at).into_iter().flatten() {
            // A folder's mod.rs re-exporting its own files is not a ring.
            let family =
                next.starts_with(&format!("{at}::")) || at.starts_with(&format!("{next}::"));
            if next == start && !(family && path.len() == 2) {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if let Some(found) = ring(graph, start, next, path, seen) {
                    return Some(found);
                }
                path.pop();
            }
        }
        None
    }
    let rings: Vec<String> = graph
        .keys()
        .filter_map(|start| {
            let found = ring(
                &graph,
                start,
                start,
                &mut vec![start.clone()],
                &mut BTreeSet::new(),
            )?;
            Some(
                found
                    .iter()
                    .map(|m| name(m))
                    .collect::<Vec<_>>()
                    .join(" → "),
            )
        })
        .collect();
    assert!(rings.is_empty(), "import rings:\n{}", rings.join("\n"));
}

#[test]
fn the_checks_see_the_imports_they_check() {
    let graph = imports();
    let of = |module: &str| graph.get(module).unwrap_or_else(|| panic!("no {module}"));
    // A `use crate::{..}` tree, a nested one and an inline path are all seen.
    assert!(of("train::pipeline").contains("train::learner"));
    assert!(of("train::pipeline").contains("run::summary"));
    assert!(of("commands::train").contains("commands::args"));
    assert!(of("data::source").contains("data::sample"));
    let mut paths = Vec::new();
    expand("a::{b, c::{d, e as f}}", "", &mut paths);
    assert_eq!(paths, ["a::b", "a::c::d", "a::c::e"]);
}
