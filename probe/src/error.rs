//! The crate's one error type. Every message names what to fix and fits on one line.

use std::path::PathBuf;

/// Everything that can go wrong while loading, attaching or running the probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process lacks the privilege to load BPF programs.
    #[error("the probe needs root to load BPF programs (running as uid {euid}): run with sudo")]
    NotRoot {
        /// Effective uid of the process.
        euid: u32,
    },
    /// The kernel exposes no BTF, which CO-RE relocation needs.
    #[error("kernel BTF is missing at {path}: the probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y ({reason})")]
    NoBtf {
        /// Where BTF was looked for.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// BPF LSM was requested but is not active in this kernel.
    #[error("BPF LSM is not active: {reason}")]
    LsmInactive {
        /// What is missing, e.g. "'bpf' missing from /sys/kernel/security/lsm (boot with lsm=...,bpf)".
        reason: String,
    },
    /// BPF LSM is active but the kernel refused a program.
    #[error("BPF LSM program {program} was refused by the kernel: {reason}")]
    LsmRefused {
        /// ELF name of the program.
        program: &'static str,
        /// The kernel's answer, on one line.
        reason: String,
    },
    /// A program failed to load or attach.
    #[error("BPF program {program} could not be loaded or attached: {reason}")]
    Program {
        /// ELF name of the program.
        program: &'static str,
        /// The kernel's answer, on one line.
        reason: String,
    },
    /// The embedded BPF object could not be parsed or its maps created.
    #[error("the embedded BPF object could not be loaded: {reason}")]
    Object {
        /// What aya reported, on one line.
        reason: String,
    },
    /// A map the loader relies on is absent or has another type.
    #[error("BPF map {map} is missing or has an unexpected type: {reason}")]
    Map {
        /// Map name in the object.
        map: &'static str,
        /// Details, on one line.
        reason: String,
    },
    /// A cgroup id in `--target-cgroup-id` / `CONANCHOR_TARGET_CGROUP_ID` is not a number.
    #[error("invalid cgroup id {input:?}: expected comma-separated decimal cgroup ids (the inode of a cgroup v2 directory, e.g. `stat -c %i <dir>`)")]
    InvalidCgroupId {
        /// The offending item.
        input: String,
    },
    /// `--attach-mode` got an unknown value.
    #[error("invalid attach mode {input:?}: expected auto, lsm or tracepoint")]
    InvalidAttachMode {
        /// The offending value.
        input: String,
    },
    /// The configured ring buffer size is not usable.
    #[error("invalid ring buffer size {bytes}: it must be a power of two and a multiple of the page size (e.g. 4096, 262144)")]
    InvalidRingBufferSize {
        /// The configured size.
        bytes: u32,
    },
    /// The configured channel capacity is zero.
    #[error("invalid channel capacity 0: it must be at least 1")]
    InvalidChannelCapacity,
    /// `Probe::start` was called outside a tokio runtime.
    #[error("Probe::start must be called from within a tokio runtime")]
    NoRuntime,
    /// A file or directory needed by the probe could not be used.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Flattens an error and its sources into one line, leaving out verifier logs (which
/// are logged at debug level instead) and newlines.
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    use aya::programs::ProgramError;

    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = match e.downcast_ref::<ProgramError>() {
            Some(ProgramError::LoadError {
                io_error,
                verifier_log,
            }) => {
                tracing::debug!(%verifier_log, "BPF verifier log");
                parts.push(format!("BPF_PROG_LOAD failed: {io_error}"));
                break;
            }
            _ => e.to_string(),
        };
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
