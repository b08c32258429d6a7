use std::path::PathBuf;

use crate::cgroups::systemd::unit::{expand_slice, UnitError, UnitSpec};

#[test]
fn default_unit_without_a_cgroups_path() {
    for path in [None, Some("")] {
        let u = UnitSpec::parse(path, "c1").unwrap();
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.unit_name(), "berth-c1.scope");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from("/system.slice/berth-c1.scope")
        );
    }
}

#[test]
fn slice_prefix_name() {
    let u = UnitSpec::parse(Some("system.slice:docker:1234"), "c1").unwrap();
    assert_eq!(
        (u.slice.as_str(), u.prefix.as_str(), u.name.as_str()),
        ("system.slice", "docker", "1234")
    );
    assert!(!u.is_slice());
    assert_eq!(u.unit_name(), "docker-1234.scope");
    assert_eq!(
        u.cgroup_path().unwrap(),
        PathBuf::from("/system.slice/docker-1234.scope")
    );

    // An empty slice is system.slice.
    let u = UnitSpec::parse(Some(":crio:abc"), "c1").unwrap();
    assert_eq!(
        u.cgroup_path().unwrap(),
        PathBuf::from("/system.slice/crio-abc.scope")
    );

    // A nested slice expands.
    let u = UnitSpec::parse(Some("machine-a-b.slice:crio:x"), "c1").unwrap();
    assert_eq!(
        u.cgroup_path().unwrap(),
        PathBuf::from("/machine.slice/machine-a.slice/machine-a-b.slice/crio-x.scope")
    );

    // The root slice.
    let u = UnitSpec::parse(Some("-.slice:p:n"), "c1").unwrap();
    assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/p-n.scope"));

    // A name ending in .slice asks for a slice unit.
    let u = UnitSpec::parse(Some("kubepods.slice::kubepods-pod1.slice"), "c1").unwrap();
    assert!(u.is_slice());
    assert_eq!(u.unit_name(), "kubepods-pod1.slice");
    assert_eq!(
        u.cgroup_path().unwrap(),
        PathBuf::from("/kubepods.slice/kubepods-pod1.slice")
    );
}

#[test]
fn wrong_shapes_name_the_value() {
    for bad in ["/berth/c1", "c1", "a:b", "a:b:c:d"] {
        let e = UnitSpec::parse(Some(bad), "c1").unwrap_err();
        assert_eq!(
            e,
            UnitError::Shape {
                value: bad.to_string()
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"{bad}\" instead"
            )
        );
    }
    let e = UnitSpec::parse(Some("system.slice:p:"), "c1").unwrap_err();
    assert!(matches!(e, UnitError::Part { part: "name", .. }), "{e}");
    let e = UnitSpec::parse(Some("system.slice:p:a/b"), "c1").unwrap_err();
    assert!(matches!(e, UnitError::Part { part: "name", .. }), "{e}");
    assert!(e.to_string().contains("a/b"), "{e}");
    let e = UnitSpec::parse(Some("system.slice:../x:n"), "c1").unwrap_err();
    assert!(matches!(e, UnitError::Part { part: "prefix", .. }), "{e}");
    for bad_slice in ["system", "a--b.slice", "-a.slice", "a-.slice", ".slice"] {
        let e = UnitSpec::parse(Some(&format!("{bad_slice}:p:n")), "c1").unwrap_err();
        assert_eq!(
            e,
            UnitError::Slice {
                value: bad_slice.to_string()
            }
        );
        assert!(e.to_string().contains(bad_slice), "{e}");
    }
    // A slice unit's own name must be a valid slice name too.
    let e = UnitSpec::parse(Some("system.slice:p:a--b.slice"), "c1").unwrap_err();
    assert!(matches!(e, UnitError::Slice { .. }), "{e}");
}

#[test]
fn expand_slice_like_runc() {
    assert_eq!(expand_slice("-.slice").unwrap(), "/");
    assert_eq!(expand_slice("foo.slice").unwrap(), "/foo.slice");
    assert_eq!(
        expand_slice("test-a-b.slice").unwrap(),
        "/test.slice/test-a.slice/test-a-b.slice"
    );
    assert_eq!(
        expand_slice("a-b-c.slice").unwrap(),
        "/a.slice/a-b.slice/a-b-c.slice"
    );
    for bad in [
        "foo",
        "foo.slic",
        ".slice",
        "a/b.slice",
        "test--a.slice",
        "-test.slice",
        "test-.slice",
        "--.slice",
    ] {
        assert!(expand_slice(bad).is_err(), "{bad:?}");
    }
}
