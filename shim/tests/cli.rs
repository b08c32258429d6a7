//! The berth CLI without containers: help, usage errors, unknown names.
mod common;

use common::Env;

#[test]
fn unknown_container_is_a_clear_error() {
    let env = Env::new();
    let err = env.fails(&["inspect", "nosuch"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_125_for_run_and_create() {
    let env = Env::new();
    let out = env.run(&["ps", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    for args in [
        &["run", "--bogus", "busybox"][..],
        &["create", "--bogus", "busybox"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    }
    // Global flags before the subcommand do not hide it.
    let out = env.run(&["--cgroup-parent", "/x", "run", "--bogus", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
}
