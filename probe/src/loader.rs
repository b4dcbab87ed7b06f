//! Loading the embedded BPF object and attaching it in LSM or tracepoint mode.

use std::path::Path;

use aya::maps::HashMap as BpfHashMap;
use aya::programs::{BtfTracePoint, Lsm, Program};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::config::{ActiveMode, AttachMode, ProbeConfig};
use crate::error::one_line;
use crate::ProbeError;

/// The compiled `probe/bpf/conanchor.bpf.c` (rebuilt by `make bpf`, checked by
/// `scripts/check-bpf-object.sh`).
static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/conanchor.bpf.o");

const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";
const SECURITYFS: &str = "/sys/kernel/security";
const LSM_LIST: &str = "/sys/kernel/security/lsm";

/// (ELF program name, LSM hook)
const LSM_PROGRAMS: [(&str, &str); 3] = [
    ("conanchor_lsm_exec", "bprm_check_security"),
    ("conanchor_lsm_open", "file_open"),
    ("conanchor_lsm_mount", "sb_mount"),
];
/// (ELF program name, BTF tracepoint)
const TP_EXEC: (&str, &str) = ("conanchor_tp_exec", "sched_process_exec");
const TP_SYS_EXIT: (&str, &str) = ("conanchor_tp_sys_exit", "sys_exit");

/// The probe, loaded and attached, not yet delivering events (see [`Probe::start`]).
pub struct Probe {
    pub(crate) ebpf: Ebpf,
    pub(crate) mode: ActiveMode,
    pub(crate) fallback_reason: Option<String>,
    pub(crate) channel_capacity: usize,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("mode", &self.mode)
            .field("fallback_reason", &self.fallback_reason)
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// Loads the BPF object and attaches it as `cfg.attach_mode` asks. The programs
    /// run from here on; events wait in the ring buffer until [`Probe::start`].
    pub fn load(cfg: &ProbeConfig) -> Result<Probe, ProbeError> {
        cfg.validate()?;
        require_root()?;
        let btf = Btf::from_sys_fs().map_err(|e| ProbeError::NoBtf {
            path: BTF_PATH.into(),
            reason: one_line(&e),
        })?;
        match cfg.attach_mode {
            AttachMode::Tracepoint => attach(cfg, &btf, ActiveMode::Tracepoint),
            AttachMode::Lsm => {
                lsm_active()?;
                attach(cfg, &btf, ActiveMode::Lsm)
            }
            AttachMode::Auto => {
                match lsm_active().and_then(|()| attach(cfg, &btf, ActiveMode::Lsm)) {
                    Ok(probe) => Ok(probe),
                    Err(lsm_err) => {
                        let reason = lsm_err.to_string();
                        tracing::warn!(%reason, "BPF LSM unavailable; falling back to tp_btf tracepoints");
                        let mut probe = attach(cfg, &btf, ActiveMode::Tracepoint)?;
                        probe.fallback_reason = Some(reason);
                        Ok(probe)
                    }
                }
            }
        }
    }

    /// The programs attached.
    pub fn mode(&self) -> ActiveMode {
        self.mode
    }

    /// Why `auto` did not use LSM (one line), when it fell back to tracepoints.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// One line for logs and status: `attach mode: tracepoint (auto: <why not LSM>)`.
    pub fn mode_description(&self) -> String {
        describe_mode(self.mode, self.fallback_reason.as_deref())
    }
}

pub(crate) fn describe_mode(mode: ActiveMode, fallback: Option<&str>) -> String {
    match fallback {
        Some(why) => format!("attach mode: {mode} (auto fell back from lsm: {why})"),
        None => format!("attach mode: {mode}"),
    }
}

fn require_root() -> Result<(), ProbeError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok(())
    } else {
        Err(ProbeError::NotRoot { euid })
    }
}

/// Checks that BPF LSM is active, mounting securityfs when it is not mounted yet.
fn lsm_active() -> Result<(), ProbeError> {
    if !Path::new(LSM_LIST).exists() {
        mount_securityfs()?;
    }
    let list = std::fs::read_to_string(LSM_LIST).map_err(|e| ProbeError::LsmInactive {
        reason: format!("cannot read {LSM_LIST}: {e}"),
    })?;
    let list = list.trim();
    if list.split(',').any(|lsm| lsm == "bpf") {
        Ok(())
    } else {
        Err(ProbeError::LsmInactive {
            reason: format!(
                "'bpf' missing from {LSM_LIST} (active: {list}; boot with lsm={list},bpf)"
            ),
        })
    }
}

fn mount_securityfs() -> Result<(), ProbeError> {
    let inactive = |why: String| ProbeError::LsmInactive {
        reason: format!(
            "{LSM_LIST} is missing and securityfs could not be mounted on {SECURITYFS}: {why}"
        ),
    };
    let target = std::ffi::CString::new(SECURITYFS).map_err(|e| inactive(e.to_string()))?;
    let fstype = c"securityfs";
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call;
    // data may be NULL for securityfs.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        tracing::info!("mounted securityfs on {SECURITYFS}");
        Ok(())
    } else {
        Err(inactive(std::io::Error::last_os_error().to_string()))
    }
}

/// Loads the object and attaches the programs of `mode`. On failure everything
/// attached so far is detached (the object is dropped).
fn attach(cfg: &ProbeConfig, btf: &Btf, mode: ActiveMode) -> Result<Probe, ProbeError> {
    let filter_cgroups = u32::from(!cfg.target_cgroup_ids.is_empty());
    let lsm_mode = u32::from(mode == ActiveMode::Lsm);
    let mut ebpf = EbpfLoader::new()
        .btf(Some(btf))
        .set_max_entries("events", cfg.ring_buffer_bytes)
        .set_global("conanchor_filter_cgroups", &filter_cgroups, true)
        .set_global("conanchor_lsm_mode", &lsm_mode, true)
        .load(BPF_OBJECT)
        .map_err(|e| ProbeError::Object {
            reason: one_line(&e),
        })?;

    fill_maps(&mut ebpf, &cfg.target_cgroup_ids)?;

    match mode {
        ActiveMode::Lsm => {
            for (name, hook) in LSM_PROGRAMS {
                attach_lsm(&mut ebpf, btf, name, hook).map_err(|reason| {
                    ProbeError::LsmRefused {
                        program: hook_label(hook),
                        reason,
                    }
                })?;
            }
            // sb_mount does not see fsmount/move_mount: the syscall tracepoint covers them
            attach_tp(&mut ebpf, btf, TP_SYS_EXIT)?;
        }
        ActiveMode::Tracepoint => {
            attach_tp(&mut ebpf, btf, TP_EXEC)?;
            attach_tp(&mut ebpf, btf, TP_SYS_EXIT)?;
        }
    }
    tracing::info!(%mode, "BPF programs attached");
    Ok(Probe {
        ebpf,
        mode,
        fallback_reason: None,
        channel_capacity: cfg.channel_capacity,
    })
}

fn hook_label(hook: &str) -> &'static str {
    match hook {
        "bprm_check_security" => "lsm/bprm_check_security",
        "file_open" => "lsm/file_open",
        "sb_mount" => "lsm/sb_mount",
        _ => "lsm/?",
    }
}

fn fill_maps(ebpf: &mut Ebpf, targets: &[u64]) -> Result<(), ProbeError> {
    let map_err = |map: &'static str| {
        move |e: aya::maps::MapError| ProbeError::Map {
            map,
            reason: one_line(&e),
        }
    };
    let mut target_map: BpfHashMap<_, u64, u8> = ebpf
        .map_mut("target_cgroups")
        .ok_or_else(|| missing_map("target_cgroups"))?
        .try_into()
        .map_err(map_err("target_cgroups"))?;
    for id in targets {
        target_map
            .insert(id, 1, 0)
            .map_err(map_err("target_cgroups"))?;
    }
    // key 0 catches drops the kernel cannot attribute (drops map full)
    let mut drops: BpfHashMap<_, u64, u64> = ebpf
        .map_mut("drops")
        .ok_or_else(|| missing_map("drops"))?
        .try_into()
        .map_err(map_err("drops"))?;
    drops.insert(0, 0, 0).map_err(map_err("drops"))?;
    Ok(())
}

pub(crate) fn missing_map(map: &'static str) -> ProbeError {
    ProbeError::Map {
        map,
        reason: "not in the embedded object (rebuild it with `make bpf`)".into(),
    }
}

fn attach_lsm(ebpf: &mut Ebpf, btf: &Btf, name: &str, hook: &str) -> Result<(), String> {
    let program: &mut Lsm = match ebpf.program_mut(name) {
        Some(Program::Lsm(p)) => p,
        _ => {
            return Err(format!(
                "program {name} is missing from the object or not an LSM program"
            ))
        }
    };
    program.load(hook, btf).map_err(|e| one_line(&e))?;
    program.attach().map_err(|e| one_line(&e))?;
    Ok(())
}

fn attach_tp(
    ebpf: &mut Ebpf,
    btf: &Btf,
    (name, tp): (&'static str, &str),
) -> Result<(), ProbeError> {
    let label = match tp {
        "sched_process_exec" => "tp_btf/sched_process_exec",
        _ => "tp_btf/sys_exit",
    };
    let program: &mut BtfTracePoint = match ebpf.program_mut(name) {
        Some(Program::BtfTracePoint(p)) => p,
        _ => {
            return Err(ProbeError::Program {
                program: label,
                reason: format!("{name} is missing from the object or not a tp_btf program"),
            })
        }
    };
    let fail = |e: aya::programs::ProgramError| ProbeError::Program {
        program: label,
        reason: one_line(&e),
    };
    program.load(tp, btf).map_err(fail)?;
    program.attach().map_err(fail)?;
    Ok(())
}
