//! Every field of the OCI runtime spec is in the README's field table (section "OCI runtime"),
//! which says what contain does with it: honoured, or refused with an error naming it. Nothing is
//! ignored in silence, so a field the table does not list is a failure here.
//!
//! The spec's fields come from its Go types at tag v1.1.0 (tests/fixtures/runtime-spec-v1.1.0/,
//! vendored from the runtime-tools source in ../shared/third_party: its `json:"..."` tags are the
//! config.json names the spec's schema has). Paths are written as in the table, without array or
//! map markers: `mounts.destination`, `linux.resources.cpu.realtimeRuntime`.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A struct's fields: config.json name, Go type of the value.
type Structs = BTreeMap<String, Vec<(String, String)>>;

fn fixture(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The structs of a Go file: `type NAME struct {` to the closing `}`, one field a line, `Name Type
/// `json:"name,omitempty"``; an embedded struct (a type name alone) adds its fields.
fn go_structs(source: &str) -> Structs {
    let mut structs: Structs = BTreeMap::new();
    let mut embedded: Vec<(String, String)> = Vec::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        if let Some(name) = line.strip_prefix("type ").and_then(|rest| rest.strip_suffix(" struct {")) {
            current = Some(name.to_string());
            structs.entry(name.to_string()).or_default();
            continue;
        }
        let Some(name) = &current else { continue };
        let line = line.trim();
        if line == "}" {
            current = None;
        } else if line.starts_with("//") || line.is_empty() {
        } else if let Some((_, tag)) = line.split_once("`json:\"") {
            let json_name = tag.split(['"', ',']).next().unwrap().to_string();
            let go_type = line.split_whitespace().nth(1).unwrap().to_string();
            structs.get_mut(name).unwrap().push((json_name, go_type));
        } else if line.chars().all(|c| c.is_ascii_alphanumeric()) {
            embedded.push((name.clone(), line.to_string()));
        }
    }
    for (into, from) in embedded {
        let fields = structs[&from].clone();
        structs.get_mut(&into).unwrap().extend(fields);
    }
    structs
}

/// Every field path below `prefix` of struct `name`, parents and leaves: a slice's or map's
/// elements stand where the slice or map does.
fn field_paths(structs: &Structs, name: &str, prefix: &str, out: &mut BTreeMap<String, bool>) {
    for (field, go_type) in &structs[name] {
        let path = format!("{prefix}{field}");
        let element = go_type.trim_start_matches(['*', '[', ']']);
        let element = element.strip_prefix("map[string]").unwrap_or(element).trim_start_matches(['*', '[', ']']);
        let is_struct = structs.contains_key(element);
        out.insert(path.clone(), !is_struct);
        if is_struct {
            field_paths(structs, element, &format!("{path}."), out);
        }
    }
}

/// `a.{b,c}` is `a.b` and `a.c`; `mounts[]` is `mounts`.
fn expand(item: &str) -> Vec<String> {
    let item = item.replace("[]", "");
    match (item.find('{'), item.find('}')) {
        (Some(open), Some(close)) if open < close => item[open + 1..close]
            .split(',')
            .map(|part| format!("{}{}{}", &item[..open], part.trim(), &item[close + 1..]))
            .collect(),
        _ => vec![item],
    }
}

/// The field paths the README's OCI table names in its first column. A backticked item whose
/// first part is a top-level field is a path; any other is relative to the item before it (in
/// its cell, else the row before), below the deepest of that item's parents where it is a field:
/// `process.args`, `env` is `process.env`; `memory.{limit}`, `cpu.{shares}` is
/// `linux.resources.cpu.shares` after `linux.resources.memory.limit`. Items that are no field
/// (`proc`, `rbind`) are values, not names.
fn readme_fields(readme: &str, fields: &BTreeMap<String, bool>) -> BTreeSet<String> {
    let section = readme.split("\n## OCI runtime").nth(1).expect("the README's OCI runtime section");
    let section = section.split("\n## ").next().unwrap();
    let top: BTreeSet<&str> = fields.keys().map(|path| path.split('.').next().unwrap()).collect();
    let (mut listed, mut previous) = (BTreeSet::new(), String::new());
    let rows = section.lines().skip_while(|line| !line.starts_with("| field")).skip(2);
    for row in rows.take_while(|line| line.starts_with('|')) {
        let cell = row.split('|').nth(1).unwrap();
        for item in cell.split('`').skip(1).step_by(2).flat_map(expand) {
            let resolved = if top.contains(item.split('.').next().unwrap()) {
                Some(item.clone())
            } else {
                let parents = std::iter::successors(Some(previous.as_str()), |p| p.rsplit_once('.').map(|(a, _)| a));
                parents.filter(|p| !p.is_empty()).map(|p| format!("{p}.{item}")).find(|path| fields.contains_key(path))
            };
            if let Some(path) = resolved.filter(|path| fields.contains_key(path)) {
                previous = path.clone();
                listed.insert(path);
            }
        }
    }
    listed
}

/// A field is listed by name, or by a parent the table names without naming any field below it
/// (`blockIO`, refused whole).
fn is_listed(path: &str, listed: &BTreeSet<String>) -> bool {
    let below = |parent: &str| listed.iter().any(|other| other.starts_with(&format!("{parent}.")));
    listed.contains(path)
        || std::iter::successors(path.rsplit_once('.').map(|(a, _)| a), |p| p.rsplit_once('.').map(|(a, _)| a))
            .any(|parent| listed.contains(parent) && !below(parent))
}

#[test]
fn the_readme_lists_every_field_of_the_runtime_spec() {
    let structs = go_structs(&fixture("tests/fixtures/runtime-spec-v1.1.0/config.go"));
    let mut fields = BTreeMap::new();
    field_paths(&structs, "Spec", "", &mut fields);
    assert!(fields.len() > 150, "the spec's Go types read as {} fields", fields.len());
    let listed = readme_fields(&fixture("README.md"), &fields);
    let missing: Vec<&String> =
        fields.iter().filter(|(path, leaf)| **leaf && !is_listed(path, &listed)).map(|(path, _)| path).collect();
    assert!(missing.is_empty(), "runtime-spec v1.1.0 fields the README's OCI field table does not list:\n{missing:#?}");
}

#[test]
fn table_items_resolve_against_the_item_before_them() {
    let fields: BTreeMap<String, bool> = [
        "process",
        "process.env",
        "process.user",
        "process.user.uid",
        "linux",
        "linux.resources",
        "linux.resources.memory",
    ]
    .into_iter()
    .chain(["linux.resources.memory.limit", "linux.resources.cpu", "linux.resources.cpu.shares"])
    .map(|path| (path.to_string(), false))
    .collect();
    let readme = "\n## OCI runtime\n\n| field | |\n| --- | --- |\n\
        | `process.env`, `user.{uid}`, `proc` | yes |\n\
        | `linux.resources.memory.{limit}`, `cpu.{shares}` | yes |\n\n## Next\n";
    let listed: Vec<String> = readme_fields(readme, &fields).into_iter().collect();
    assert_eq!(
        listed,
        ["linux.resources.cpu.shares", "linux.resources.memory.limit", "process.env", "process.user.uid"]
    );
    let listed: BTreeSet<String> = ["linux.resources.cpu".to_string()].into();
    assert!(is_listed("linux.resources.cpu.shares", &listed));
    let listed: BTreeSet<String> = ["linux.resources.cpu".to_string(), "linux.resources.cpu.quota".to_string()].into();
    assert!(!is_listed("linux.resources.cpu.shares", &listed), "a parent whose fields are listed one by one");
}
