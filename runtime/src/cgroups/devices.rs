//! The device rules a container always gets on top of `linux.resources.devices`,
//! as runc adds them: mknod of anything, the default device nodes, ptys, and
//! every device listed in `linux.devices`.
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// The rules for the default devices (null, zero, full, random, urandom, tty, ptmx, pts).
pub fn default_allowed() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(5), Some(1), "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(136), None, "rwm"),
    ]
}

/// `resources` with the default rules and one rule per `linux.devices` entry appended
/// (after the config's own rules, so a leading deny-all stays first).
pub fn with_defaults(resources: &LinuxResources, devices: &[LinuxDevice]) -> LinuxResources {
    let mut out = resources.clone();
    let mut rules = resources.devices().clone().unwrap_or_default();
    rules.extend(default_allowed());
    for d in devices {
        let typ = match d.typ() {
            LinuxDeviceType::B => LinuxDeviceType::B,
            LinuxDeviceType::P => continue,
            _ => LinuxDeviceType::C,
        };
        rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    out.set_devices(Some(rules));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_defaults_and_listed_devices_after_config_rules() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        let devs: Vec<LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]"#)
                .unwrap();
        let out = with_defaults(&res, &devs);
        let rules = out.devices().as_ref().unwrap();
        assert!(!rules[0].allow());
        assert_eq!(rules.len(), 1 + default_allowed().len() + 1);
        let last = rules.last().unwrap();
        assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
    }
}
