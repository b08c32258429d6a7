//! `linux.resources.blockIO` on cgroup v2: weights go to io.bfq.weight as
//! they are (BFQ uses the v1 range) or, without BFQ, converted to io.weight;
//! throttles become io.max lines.
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::{not_on_v2, require_file};
use crate::cgroups::{write_value, CgroupError};

/// runc's conversion of a v1 blkio weight [10, 1000] to io.weight [1, 10000]:
/// `1 + (weight - 10) * 9999 / 990`.
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight) - 10) * 9999 / 990
}

fn throttles(b: &LinuxBlockIo) -> [(&Option<Vec<LinuxThrottleDevice>>, &'static str); 4] {
    [
        (b.throttle_read_bps_device(), "rbps"),
        (b.throttle_write_bps_device(), "wbps"),
        (b.throttle_read_iops_device(), "riops"),
        (b.throttle_write_iops_device(), "wiops"),
    ]
}

pub(super) fn is_set(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || throttles(b)
            .iter()
            .any(|(l, _)| l.as_ref().is_some_and(|v| !v.is_empty()))
}

fn check_weight(resource: &'static str, w: u16) -> Result<(), CgroupError> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(CgroupError::InvalidValue {
            resource,
            reason: format!("{w} is outside 10-1000"),
        })
    }
}

pub(super) fn validate(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    const REASON: &str = "cgroup v2 has no leaf weights";
    if b.leaf_weight().is_some() {
        return Err(not_on_v2("blockIO.leafWeight", REASON));
    }
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        check_weight("blockIO.weight", w)?;
    }
    for d in b.weight_device().iter().flatten() {
        if d.leaf_weight().is_some() {
            return Err(not_on_v2("blockIO.weightDevice.leafWeight", REASON));
        }
        if let Some(w) = d.weight() {
            check_weight("blockIO.weightDevice.weight", w)?;
        }
    }
    Ok(())
}

/// Where weights go: (file, whether the v1 value must be converted).
fn weight_file(dir: &Path, resource: &'static str) -> Result<(&'static str, bool), CgroupError> {
    if dir.join("io.bfq.weight").exists() {
        return Ok(("io.bfq.weight", false));
    }
    require_file(dir, "io.weight", resource)?;
    Ok(("io.weight", true))
}

fn weight_value(w: u16, convert: bool) -> String {
    if convert {
        blkio_to_io_weight(w).to_string()
    } else {
        w.to_string()
    }
}

pub(super) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let (file, convert) = weight_file(dir, "blockIO.weight")?;
        write_value(dir, file, &weight_value(w, convert))?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let (file, convert) = weight_file(dir, "blockIO.weightDevice")?;
            let line = format!("{}:{} {}", d.major(), d.minor(), weight_value(w, convert));
            write_value(dir, file, &line)?;
        }
    }
    for (list, key) in throttles(b) {
        for d in list.iter().flatten() {
            // A v1 rate of 0 means "no limit".
            let rate = match d.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            write_value(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", d.major(), d.minor()),
            )?;
        }
    }
    Ok(())
}
