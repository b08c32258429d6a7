use oci_spec::runtime::LinuxResources;

use crate::cgroups::systemd::props::{
    range_to_bits, resource_properties, shares_to_weight, to_array, unit_properties, Mode,
    Property, PropsError,
};
use crate::cgroups::systemd::unit::UnitSpec;
use crate::cgroups::systemd::wire::Value;

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn pairs(p: &[Property]) -> Vec<(&str, &Value)> {
    p.iter().map(|p| (p.name.as_str(), &p.value)).collect()
}

fn t(v: u64) -> Value {
    Value::U64(v)
}

#[test]
fn scope_properties() {
    let u = UnitSpec::parse(Some("system.slice:docker:1234"), "c1").unwrap();
    let p = unit_properties(&u, 42, Mode::Legacy);
    let yes = Value::Bool(true);
    assert_eq!(
        pairs(&p),
        [
            ("Description", &Value::str("berth container 1234")),
            ("Slice", &Value::str("system.slice")),
            ("PIDs", &Value::Array("u".into(), vec![Value::U32(42)])),
            ("Delegate", &yes),
            ("MemoryAccounting", &yes),
            ("CPUAccounting", &yes),
            ("BlockIOAccounting", &yes),
            ("TasksAccounting", &yes),
            ("DefaultDependencies", &Value::Bool(false)),
        ]
    );
    let v2 = unit_properties(&u, 42, Mode::Unified);
    assert!(v2.iter().any(|p| p.name == "IOAccounting"));
    assert!(!v2.iter().any(|p| p.name == "BlockIOAccounting"));
    assert_eq!(to_array(&p).signature(), "a(sv)");
}

#[test]
fn slice_unit_properties() {
    let u = UnitSpec::parse(Some("kubepods.slice::kubepods-pod1.slice"), "c1").unwrap();
    let p = unit_properties(&u, 42, Mode::Legacy);
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert!(
        !names.contains(&"Slice") && !names.contains(&"Delegate"),
        "{names:?}"
    );
    assert_eq!(
        p[1],
        Property::new(
            "Wants",
            Value::Array("s".into(), vec![Value::str("kubepods.slice")])
        )
    );
}

#[test]
fn v1_resources() {
    let r = res(r#"{
        "memory": {"limit": 1073741824, "reservation": 1000, "swap": 2147483648},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-3,32-33", "mems": "0"},
        "blockIO": {"weight": 500},
        "pids": {"limit": 100}
    }"#);
    let p = resource_properties(&r, Mode::Legacy, Some(252)).unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("MemoryLimit", &t(1 << 30)),
            ("CPUShares", &t(1024)),
            ("CPUQuotaPeriodUSec", &t(100_000)),
            ("CPUQuotaPerSecUSec", &t(500_000)),
            ("BlockIOWeight", &t(500)),
            ("TasksMax", &t(100)),
            (
                "AllowedCPUs",
                &Value::Array(
                    "y".into(),
                    [0x0f, 0, 0, 0, 3].into_iter().map(Value::Byte).collect()
                )
            ),
            (
                "AllowedMemoryNodes",
                &Value::Array("y".into(), vec![Value::Byte(1)])
            ),
        ]
    );
}

#[test]
fn v2_resources() {
    let r = res(r#"{
        "memory": {"limit": 1000, "reservation": 500, "swap": 3000},
        "cpu": {"shares": 1024},
        "blockIO": {"weight": 500},
        "pids": {"limit": -1}
    }"#);
    let p = resource_properties(&r, Mode::Unified, Some(252)).unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("MemoryMax", &t(1000)),
            ("MemoryLow", &t(500)),
            ("MemorySwapMax", &t(2000)),
            ("CPUWeight", &t(39)),
            ("TasksMax", &t(u64::MAX)),
        ]
    );
    // Unlimited memory and no swap: both unlimited.
    let p = resource_properties(&res(r#"{"memory": {"limit": -1}}"#), Mode::Unified, None).unwrap();
    assert_eq!(
        pairs(&p),
        [("MemoryMax", &t(u64::MAX)), ("MemorySwapMax", &t(u64::MAX))]
    );
    // Swap without a memory limit.
    let e =
        resource_properties(&res(r#"{"memory": {"swap": 10}}"#), Mode::Unified, None).unwrap_err();
    assert!(
        matches!(
            &e,
            PropsError::Invalid {
                field: "memory.swap",
                ..
            }
        ),
        "{e}"
    );
    let e = resource_properties(
        &res(r#"{"memory": {"limit": 100, "swap": 10}}"#),
        Mode::Unified,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("memory.swap"), "{e}");
}

#[test]
fn unset_and_zero_values_give_no_property() {
    let r = res(r#"{"memory": {"limit": 0}, "cpu": {"shares": 0}, "pids": {"limit": 0}}"#);
    assert_eq!(
        resource_properties(&r, Mode::Legacy, Some(252)).unwrap(),
        []
    );
    assert_eq!(
        resource_properties(&res("{}"), Mode::Unified, Some(252)).unwrap(),
        []
    );
}

#[test]
fn cpu_quota_like_runc() {
    let quota = |q: i64, period: u64, version| {
        let r = res(&format!(
            r#"{{"cpu": {{"quota": {q}, "period": {period}}}}}"#
        ));
        resource_properties(&r, Mode::Legacy, version).unwrap()
    };
    // Rounded up to whole percents.
    assert_eq!(
        pairs(&quota(33_333, 100_000, None)),
        [("CPUQuotaPerSecUSec", &t(340_000))]
    );
    // Default period.
    assert_eq!(
        pairs(&quota(200_000, 0, None)),
        [("CPUQuotaPerSecUSec", &t(2_000_000))]
    );
    // No quota with a period: unlimited; the period only from systemd 242.
    assert_eq!(
        pairs(&quota(-1, 50_000, Some(242))),
        [
            ("CPUQuotaPeriodUSec", &t(50_000)),
            ("CPUQuotaPerSecUSec", &t(u64::MAX))
        ]
    );
    assert_eq!(
        pairs(&quota(-1, 50_000, Some(241))),
        [("CPUQuotaPerSecUSec", &t(u64::MAX))]
    );
    // Huge values saturate instead of overflowing.
    assert_eq!(
        pairs(&quota(i64::MAX, 1, None)),
        [("CPUQuotaPerSecUSec", &t(u64::MAX))]
    );
}

#[test]
fn cpusets_need_systemd_244() {
    let r = res(r#"{"cpu": {"cpus": "1", "mems": "0"}}"#);
    assert_eq!(
        resource_properties(&r, Mode::Legacy, Some(243)).unwrap(),
        []
    );
    assert_eq!(resource_properties(&r, Mode::Legacy, None).unwrap(), []);
    assert_eq!(
        resource_properties(&r, Mode::Legacy, Some(244))
            .unwrap()
            .len(),
        2
    );
    let e = resource_properties(&res(r#"{"cpu": {"cpus": "3-1"}}"#), Mode::Legacy, Some(252))
        .unwrap_err();
    assert!(e.to_string().contains("cpu.cpus"), "{e}");
    assert!(e.to_string().contains("3-1"), "{e}");
}

#[test]
fn cpu_lists_as_little_endian_bitmasks() {
    let cases: &[(&str, &[u8])] = &[
        ("0", &[1]),
        ("1", &[2]),
        ("0-1", &[3]),
        ("0,1", &[3]),
        (",0,1,", &[3]),
        ("0-3", &[0x0f]),
        ("0,1,2-3", &[0x0f]),
        ("4-7", &[0xf0]),
        ("0-7", &[0xff]),
        ("0-15", &[0xff, 0xff]),
        ("16", &[0, 0, 1]),
        ("0-3,32-33", &[0x0f, 0, 0, 0, 3]),
        ("1, 2, 1-2", &[6]),
        ("    , 1   , 3  ,  5-7,\t", &[0xea]),
        (
            "8,184",
            &[
                0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ],
        ),
    ];
    for (list, want) in cases {
        assert_eq!(range_to_bits(list).as_deref(), Ok(*want), "{list:?}");
    }
    let big = range_to_bits("128-130,1").unwrap();
    assert_eq!(big.len(), 17);
    assert_eq!((big[0], big[16]), (2, 7));
    for bad in ["", "-", "1-", "-3", "54-53", "1 - 2", "x", "70000"] {
        assert!(range_to_bits(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn shares_to_weight_like_runc() {
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
}
