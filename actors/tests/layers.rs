//! The dependency direction of the crate: adapters → registry → entities → aggregators →
//! shared modules (→ the store, another crate). A module may use its own layer and those
//! below; two modules never use each other. Read from the `crate::` paths of every source
//! file, so moving an import back up fails here, not in review.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → layer (higher uses lower).
const LAYERS: &[(&str, u8)] = &[
    ("entity", 0),
    ("geo", 0),
    ("transit", 0),
    ("errors", 0),
    ("metrics", 0),
    ("shared", 0),
    ("arbiters", 0),
    ("tls", 0),
    ("hub", 1),
    ("rules", 1),
    ("db_batcher", 1),
    ("redis_bridge", 1),
    ("commands", 1),
    ("notify", 1),
    ("system", 1),
    ("reid", 1),
    ("vehicle", 2),
    ("edge", 2),
    ("robot", 2),
    ("camera", 2),
    ("registry", 3),
    ("teltonika", 4),
    ("mqtt", 4),
    ("modbus", 4),
    ("replay", 4),
];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/layers.rs"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::<module>` in `text`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        // `urbanstream_crate::` or `my_crate::` are not this crate.
        if text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            used.insert(name);
        }
    }
    used
}

/// module → the other modules it uses, for this crate.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// module → the other modules it uses, for the crate whose sources are under `root`.
fn graph_of(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let root = root.to_path_buf();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap();
        let first = rel.iter().next().unwrap().to_string_lossy();
        if first == "lib.rs" {
            continue;
        }
        if first == "main.rs" {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for used in used_modules(&text) {
            if used != module {
                uses.insert(used);
            }
        }
    }
    graph
}

#[test]
fn imports_run_one_way_down_the_layers() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            if layer(used) > layer(module) {
                wrong.push(format!(
                    "{module} (layer {}) uses {used} (layer {})",
                    layer(module),
                    layer(used)
                ));
            }
            if graph.get(used).is_some_and(|back| back.contains(module)) && module < used {
                wrong.push(format!("{module} and {used} use each other"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_has_a_layer_and_the_check_sees_imports() {
    let graph = graph();
    for module in graph.keys() {
        layer(module);
    }
    // The check reads real imports: the adapter uses the registry and the entity
    // vocabulary, and nothing below it names it.
    assert!(graph["teltonika"].contains("registry"));
    assert!(graph["teltonika"].contains("entity"));
    assert!(graph.values().all(|uses| !uses.contains("teltonika")));
    assert_eq!(
        used_modules("use crate::hub::Topic; urbanstream_crate::no; crate::"),
        BTreeSet::from(["hub".to_owned()])
    );
}

#[test]
fn the_binarys_modules_never_use_each_other() {
    // The binary (`src/`) has no layers below its composition root (`server`), but no two
    // of its modules may depend on each other.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let graph = graph_of(&root);
    assert!(graph.contains_key("http") && graph.contains_key("server"));
    let mut both = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            if module < used && graph.get(used).is_some_and(|back| back.contains(module)) {
                both.push(format!("{module} and {used} use each other"));
            }
        }
    }
    assert!(both.is_empty(), "{}", both.join("\n"));
}
