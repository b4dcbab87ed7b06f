//! What the caller asks of the probe: attach mode, target cgroups, buffer sizes.

use std::fmt;
use std::str::FromStr;

use crate::ProbeError;

/// Environment variable naming the target cgroup ids (comma-separated), as the seed's.
pub const TARGET_CGROUP_ENV: &str = "CONANCHOR_TARGET_CGROUP_ID";

/// Which programs to attach (`--attach-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttachMode {
    /// BPF LSM when the kernel has it active and accepts the programs, else tracepoints.
    #[default]
    Auto,
    /// BPF LSM only; loading fails when LSM is unavailable.
    Lsm,
    /// `tp_btf` tracepoints only.
    Tracepoint,
}

impl FromStr for AttachMode {
    type Err = ProbeError;

    fn from_str(s: &str) -> Result<AttachMode, ProbeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(AttachMode::Auto),
            "lsm" => Ok(AttachMode::Lsm),
            "tracepoint" | "tp" => Ok(AttachMode::Tracepoint),
            _ => Err(ProbeError::InvalidAttachMode { input: s.into() }),
        }
    }
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Auto => "auto",
            AttachMode::Lsm => "lsm",
            AttachMode::Tracepoint => "tracepoint",
        })
    }
}

/// The programs actually attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActiveMode {
    /// `lsm/*` hooks (plus `tp_btf/sys_exit` for the new mount API).
    Lsm,
    /// `tp_btf/sched_process_exec` and `tp_btf/sys_exit`.
    Tracepoint,
}

impl fmt::Display for ActiveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActiveMode::Lsm => "lsm",
            ActiveMode::Tracepoint => "tracepoint",
        })
    }
}

/// Probe settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Which programs to attach.
    pub attach_mode: AttachMode,
    /// Only these cgroups (cgroup v2 ids) are watched; empty = all cgroups.
    pub target_cgroup_ids: Vec<u64>,
    /// Kernel ring buffer size in bytes: a power of two, at least one page. Each event
    /// takes 496 bytes in it (488 + an 8-byte record header).
    pub ring_buffer_bytes: u32,
    /// Capacity of the channel the drain task sends into. When it is full the drain
    /// task waits, the ring buffer fills, and the kernel counts drops per cgroup.
    pub channel_capacity: usize,
}

impl Default for ProbeConfig {
    fn default() -> ProbeConfig {
        ProbeConfig {
            attach_mode: AttachMode::Auto,
            target_cgroup_ids: Vec::new(),
            ring_buffer_bytes: 1 << 20,
            channel_capacity: 4096,
        }
    }
}

impl ProbeConfig {
    /// Checks the sizes (the cgroup ids are already numbers).
    pub fn validate(&self) -> Result<(), ProbeError> {
        let page = page_size();
        let rb = self.ring_buffer_bytes;
        if !rb.is_power_of_two() || (rb as usize) < page || !(rb as usize).is_multiple_of(page) {
            return Err(ProbeError::InvalidRingBufferSize { bytes: rb });
        }
        if self.channel_capacity == 0 {
            return Err(ProbeError::InvalidChannelCapacity);
        }
        Ok(())
    }
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Parses `--target-cgroup-id` / `CONANCHOR_TARGET_CGROUP_ID`: decimal ids separated by
/// commas, blanks around items allowed, empty items ignored, duplicates removed
/// (first occurrence kept). An empty string means "all cgroups" (empty vector).
pub fn parse_cgroup_ids(s: &str) -> Result<Vec<u64>, ProbeError> {
    let mut ids = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let id: u64 = item.parse().map_err(|_| ProbeError::InvalidCgroupId {
            input: item.to_string(),
        })?;
        if id == 0 {
            return Err(ProbeError::InvalidCgroupId {
                input: item.to_string(),
            });
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The target cgroup ids from `CONANCHOR_TARGET_CGROUP_ID` (empty when unset).
pub fn target_cgroup_ids_from_env() -> Result<Vec<u64>, ProbeError> {
    match std::env::var(TARGET_CGROUP_ENV) {
        Ok(v) => parse_cgroup_ids(&v),
        Err(std::env::VarError::NotPresent) => Ok(Vec::new()),
        Err(std::env::VarError::NotUnicode(v)) => Err(ProbeError::InvalidCgroupId {
            input: v.to_string_lossy().into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comma_separated_ids() {
        assert_eq!(parse_cgroup_ids("123456789").unwrap(), vec![123_456_789]);
        assert_eq!(
            parse_cgroup_ids("123456789,987654321").unwrap(),
            vec![123_456_789, 987_654_321]
        );
        assert_eq!(parse_cgroup_ids(" 1 , 2,,3 ,2").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_cgroup_ids("").unwrap(), Vec::<u64>::new());
        assert_eq!(parse_cgroup_ids(" , ").unwrap(), Vec::<u64>::new());
        assert_eq!(
            parse_cgroup_ids("18446744073709551615").unwrap(),
            vec![u64::MAX]
        );
    }

    #[test]
    fn rejects_what_is_not_a_cgroup_id() {
        for bad in [
            "abc",
            "12,x",
            "-5",
            "1.5",
            "0",
            "18446744073709551616",
            "0x10",
        ] {
            let err = parse_cgroup_ids(bad).unwrap_err();
            assert!(matches!(err, ProbeError::InvalidCgroupId { .. }), "{bad}");
            assert!(err.to_string().contains("comma-separated"), "{err}");
        }
        let err = parse_cgroup_ids("1,oops,3").unwrap_err();
        assert!(
            err.to_string().contains("\"oops\""),
            "names the bad item: {err}"
        );
    }

    #[test]
    fn target_ids_come_from_the_environment() {
        // the only test touching this variable
        std::env::set_var(TARGET_CGROUP_ENV, "49396, 123");
        assert_eq!(target_cgroup_ids_from_env().unwrap(), vec![49_396, 123]);
        std::env::set_var(TARGET_CGROUP_ENV, "nope");
        assert!(target_cgroup_ids_from_env().is_err());
        std::env::remove_var(TARGET_CGROUP_ENV);
        assert_eq!(target_cgroup_ids_from_env().unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn attach_mode_round_trips() {
        for mode in [AttachMode::Auto, AttachMode::Lsm, AttachMode::Tracepoint] {
            assert_eq!(mode.to_string().parse::<AttachMode>().unwrap(), mode);
        }
        assert_eq!(" LSM ".parse::<AttachMode>().unwrap(), AttachMode::Lsm);
        let err = "kprobe".parse::<AttachMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid attach mode \"kprobe\": expected auto, lsm or tracepoint"
        );
        assert_eq!(ActiveMode::Lsm.to_string(), "lsm");
        assert_eq!(ActiveMode::Tracepoint.to_string(), "tracepoint");
    }

    #[test]
    fn ring_buffer_size_must_be_a_power_of_two_pages() {
        let ok = ProbeConfig::default();
        assert!(ok.validate().is_ok());
        for bytes in [0, 100, 4097, 3 * 4096, 1024] {
            let cfg = ProbeConfig {
                ring_buffer_bytes: bytes,
                ..ProbeConfig::default()
            };
            assert!(cfg.validate().is_err(), "{bytes}");
        }
        let cfg = ProbeConfig {
            channel_capacity: 0,
            ..ProbeConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}
