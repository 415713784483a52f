//! The layout's rule, checked: each role depends only on the roles below it, and no two
//! files of the crate import each other, directly or around a cycle. A file's imports
//! are read from its `crate::` paths (braced groups included).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Each top-level module and the modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("adapters", &["config"]),
    ("engine", &["adapters", "config"]),
    ("http", &["engine", "adapters", "config"]),
    ("app", &["http", "engine", "adapters", "config"]),
    ("dev", &["app", "http", "engine", "adapters", "config"]),
    (
        "cli",
        &["dev", "app", "http", "engine", "adapters", "config"],
    ),
];

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `engine/lifecycle.rs` → `engine::lifecycle`; `adapters/db/mod.rs` → `adapters::db`.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The `crate::` paths a file names, with braced groups expanded one level deep enough
/// for module resolution: `crate::{a::b, c::{d, e}}` gives `a::b`, `c::d`, `c::e`.
fn crate_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        expand("", rest, &mut paths);
    }
    paths
}

/// Reads one path (or braced group) at the start of `text`, prefixed by `prefix`.
fn expand(prefix: &str, text: &str, out: &mut Vec<String>) -> usize {
    let text_bytes = text.as_bytes();
    let mut end = 0;
    while end < text.len()
        && (text_bytes[end].is_ascii_alphanumeric()
            || text_bytes[end] == b'_'
            || text[end..].starts_with("::"))
    {
        end += if text[end..].starts_with("::") { 2 } else { 1 };
    }
    let head = text[..end].trim_end_matches("::");
    let path = if prefix.is_empty() {
        head.to_owned()
    } else if head.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}::{head}")
    };
    if text[end..].starts_with('{') {
        let mut at = end + 1;
        loop {
            at += text[at..].len() - text[at..].trim_start().len();
            if text[at..].starts_with('}') {
                return at + 1;
            }
            if at >= text.len() {
                return at;
            }
            let read = expand(&path, &text[at..], out);
            // Anything else (`*`, `self`'s siblings we cannot name): step over it.
            at += if read > 0 {
                read
            } else {
                text[at..].chars().next().map_or(1, char::len_utf8)
            };
            at += text[at..].len() - text[at..].trim_start().len();
            // Skip `as alias`, then a comma.
            if let Some(after) = text[at..].strip_prefix("as ") {
                let alias = after.find([',', '}']).unwrap_or(after.len());
                at += 3 + alias;
            }
            if text[at..].starts_with(',') {
                at += 1;
            }
        }
    }
    out.push(path);
    end
}

/// The longest known module that `path` starts with.
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| modules.contains(candidate))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(&root, file);
        let text = std::fs::read_to_string(file).unwrap();
        let uses: BTreeSet<String> = crate_paths(&text)
            .iter()
            .filter_map(|path| resolve(path, &modules))
            // A module's own submodules and its parent folder's `mod.rs` are its own.
            .filter(|used| {
                !used.starts_with(&format!("{module}::"))
                    && !module.starts_with(&format!("{used}::"))
            })
            .filter(|used| *used != module)
            .collect();
        edges.insert(module, uses);
    }
    edges
}

#[test]
fn each_role_uses_only_the_roles_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut breaches = Vec::new();
    for (module, uses) in graph() {
        let top = module.split("::").next().unwrap().to_owned();
        let Some(may_use) = allowed.get(top.as_str()) else {
            continue;
        };
        for used in uses {
            let used_top = used.split("::").next().unwrap();
            if used_top != top && !may_use.contains(&used_top) {
                breaches.push(format!("{module} uses {used}"));
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "imports against the layering:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn no_module_imports_itself_around_a_cycle() {
    let graph = graph();
    // Depth-first search; a grey node met again closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, graph, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    cycles.push(format!("{} -> {next}", stack[from..].join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            visit(node, &graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn braced_imports_are_read_as_paths() {
    let paths = crate_paths(
        "use crate::{\n    adapters::{db::{Db, Row}, livekit::LiveKit as L},\n    config::Config,\n};\nlet x = crate::engine::jobs::Job::X;",
    );
    assert_eq!(
        paths,
        [
            "adapters::db::Db",
            "adapters::db::Row",
            "adapters::livekit::LiveKit",
            "config::Config",
            "engine::jobs::Job::X"
        ]
    );
}

#[test]
fn the_graph_sees_the_imports() {
    let graph = graph();
    assert!(graph["engine::control"].contains("engine::lifecycle"));
    assert!(graph["engine::runner"].contains("engine::completion"));
    assert!(graph["app"].contains("http"));
    assert!(graph["http::recordings"].contains("engine::control"));
}
