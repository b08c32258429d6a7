//! Cgroup limits: `--memory`, `--cpus`, `--pids-limit`.
use oci_spec::runtime::Spec;

use super::SpecError;
use crate::cli::RunArgs;

/// docker's smallest memory limit (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period `--cpus` uses (docker's): 100ms.
pub const CPU_PERIOD: u64 = 100_000;

/// The limits the flags ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes.
    pub memory: Option<i64>,
    /// CFS quota in microseconds per [`CPU_PERIOD`].
    pub cpu_quota: Option<i64>,
    pub pids: Option<i64>,
}

impl Limits {
    pub fn parse(run: &RunArgs) -> Result<Limits, SpecError> {
        let mut out = Limits::default();
        if let Some(m) = run.memory.as_deref() {
            let bytes = berth_runtime::units::ram_in_bytes(m)
                .map_err(|e| SpecError::invalid("--memory", m, e.to_string()))?;
            // docker: 0 means no limit.
            if bytes != 0 {
                if bytes < MIN_MEMORY {
                    return Err(SpecError::invalid(
                        "--memory",
                        m,
                        "the minimum memory limit is 6MB",
                    ));
                }
                out.memory = Some(bytes);
            }
        }
        if let Some(cpus) = run.cpus {
            let available = std::thread::available_parallelism().map_or(1, |n| n.get());
            if !cpus.is_finite() || cpus < 0.0 || cpus > available as f64 {
                return Err(SpecError::invalid(
                    "--cpus",
                    &cpus.to_string(),
                    format!("the range of CPUs is from 0.01 to {available}.00, as there are only {available} CPUs available"),
                ));
            }
            let quota = (cpus * CPU_PERIOD as f64).round() as i64;
            if quota != 0 {
                if quota < 1000 {
                    return Err(SpecError::invalid(
                        "--cpus",
                        &cpus.to_string(),
                        "the smallest is 0.01",
                    ));
                }
                out.cpu_quota = Some(quota);
            }
        }
        // docker: 0 or less means unlimited.
        out.pids = run.pids_limit.filter(|p| *p > 0);
        Ok(out)
    }

    /// Set them in `linux.resources`.
    pub fn apply(&self, spec: &mut Spec) {
        if *self == Limits::default() {
            return;
        }
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut res = linux.resources().clone().unwrap_or_default();
        if let Some(m) = self.memory {
            let mut mem = res.memory().unwrap_or_default();
            mem.set_limit(Some(m));
            res.set_memory(Some(mem));
        }
        if let Some(q) = self.cpu_quota {
            let mut cpu = res.cpu().clone().unwrap_or_default();
            cpu.set_quota(Some(q));
            cpu.set_period(Some(CPU_PERIOD));
            res.set_cpu(Some(cpu));
        }
        if let Some(p) = self.pids {
            let mut pids = oci_spec::runtime::LinuxPids::default();
            pids.set_limit(p);
            res.set_pids(Some(pids));
        }
        linux.set_resources(Some(res));
        spec.set_linux(Some(linux));
    }
}
