//! OCI bundles for the tests that drive contain as an engine does: `create --bundle`, then
//! `start`, `state`, `delete`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{command, contain, scratch, source, Defer};

/// An OCI bundle in the scratch directory: crun's own example config (tests/fixtures), with the
/// rootfs `rootfs`, the command `args` and the capabilities `caps` added to its own.
pub fn oci_bundle(name: &str, rootfs: &Path, args: &[&str], caps: &[&str]) -> PathBuf {
    let bundle = scratch().join(format!("bundle-{name}"));
    fs::create_dir_all(&bundle).unwrap();
    let fixture = source("tests/fixtures/crun-config.json");
    let mut config: serde_json::Value = serde_json::from_str(&fs::read_to_string(fixture).unwrap()).unwrap();
    config["root"] = serde_json::json!({ "path": rootfs });
    config["process"]["args"] = serde_json::json!(args);
    config["process"]["terminal"] = serde_json::json!(false);
    for set in ["bounding", "effective", "permitted"] {
        let list = config["process"]["capabilities"][set].as_array_mut().unwrap();
        list.extend(caps.iter().map(|cap| serde_json::json!(cap)));
    }
    fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    bundle
}

/// `contain delete --force NAME` when the test ends, passed or failed.
pub fn deleted_at_the_end(name: &str) -> Defer<impl FnMut() + '_> {
    Defer(move || {
        let _ = command(&["delete", "--force", name]).stderr(Stdio::null()).status();
    })
}

/// `contain create` of `bundle` as `name`: its exit code, and the file its output went to. The
/// created init keeps create's stdout and stderr for its command: a file, not a pipe whose end of
/// file would wait for the container.
pub fn try_create_oci(name: &str, bundle: &Path) -> (Option<i32>, PathBuf) {
    try_create_oci_with(&[], name, bundle)
}

/// `contain GLOBAL... create` of `bundle` as `name`, the global flags (`--root DIR`,
/// `--systemd-cgroup`, `--explain-to FILE`) before the command as engines pass them: as
/// `try_create_oci`.
pub fn try_create_oci_with(global: &[&str], name: &str, bundle: &Path) -> (Option<i32>, PathBuf) {
    let said = scratch().join(format!("{name}.create"));
    let out = || Stdio::from(fs::File::create(&said).unwrap());
    let args = [global, &["create", "--bundle", bundle.to_str().unwrap(), name]].concat();
    let create = command(&args).stdout(out()).stderr(out()).status();
    (create.unwrap().code(), said)
}

/// `contain create` of `bundle` as `name`, which must succeed; the file its output went to, and
/// its init's pid.
pub fn create_oci(name: &str, bundle: &Path) -> (PathBuf, i32) {
    let (code, said) = try_create_oci(name, bundle);
    assert_eq!(code, Some(0), "{}", fs::read_to_string(&said).unwrap());
    let state: serde_json::Value = serde_json::from_str(&contain(&["state", name]).stdout).unwrap();
    (said, state["pid"].as_i64().unwrap() as i32)
}
