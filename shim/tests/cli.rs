//! The berth CLI without containers: help, usage errors, unknown names.
mod common;

use common::Env;

#[test]
fn unknown_container_is_a_clear_error() {
    let env = Env::new();
    let err = env.fails(&["inspect", "nosuch"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
}
