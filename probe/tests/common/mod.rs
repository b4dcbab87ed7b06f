//! Shared helpers of the root integration tests: skipping, test cgroups, and child
//! processes that act from inside a cgroup.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::ffi::CString;
use std::hash::BuildHasher;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use conanchor_probe::{cgroup2_mount, AttachMode, Probe, ProbeConfig};

/// Tests that attach programs to the kernel run one at a time.
pub static KERNEL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Skips the test with a visible reason, or fails it when CONANCHOR_REQUIRE_BPF=1.
pub fn skip(reason: &str) {
    if std::env::var("CONANCHOR_REQUIRE_BPF").as_deref() == Ok("1") {
        panic!("CONANCHOR_REQUIRE_BPF=1 but the live probe test cannot run: {reason}");
    }
    say(&format!("SKIP: {reason}"));
}

/// Writes a line to stderr past the test harness's output capture, so it shows in
/// `cargo test` output even when the test passes.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Whether this machine can run the live tests (root, BTF, cgroup v2, tp_btf loads);
/// calls [`skip`] when not.
pub fn bpf_available() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("not root (the live probe tests load BPF programs)");
        return false;
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        skip("no kernel BTF at /sys/kernel/btf/vmlinux");
        return false;
    }
    if cgroup2_mount().is_none() {
        skip("no cgroup v2 mount");
        return false;
    }
    let cfg = ProbeConfig {
        attach_mode: AttachMode::Tracepoint,
        ..ProbeConfig::default()
    };
    match Probe::load(&cfg) {
        Ok(_) => true,
        Err(e) => {
            skip(&format!("BPF tracepoints unavailable: {e}"));
            false
        }
    }
}

/// 64 random hex digits, like a container id.
pub fn random_hex64() -> String {
    let s = RandomState::new();
    (0..4u64)
        .map(|i| format!("{:016x}", s.hash_one(i)))
        .collect()
}

/// A cgroup `<cgroup2>/kubepods.slice/cri-containerd-<64 hex>.scope`, removed on drop.
pub struct TestCgroup {
    pub dir: PathBuf,
    pub id: u64,
    pub container_id: String,
    parent: PathBuf,
    created_parent: bool,
    procs: CString,
}

impl TestCgroup {
    pub fn new() -> TestCgroup {
        let root = cgroup2_mount().expect("cgroup v2 mount");
        let parent = root.join("kubepods.slice");
        let created_parent = !parent.exists();
        if created_parent {
            std::fs::create_dir(&parent).expect("mkdir kubepods.slice");
        }
        let container_id = random_hex64();
        let dir = parent.join(format!("cri-containerd-{container_id}.scope"));
        std::fs::create_dir(&dir).expect("mkdir test cgroup");
        let id = std::fs::metadata(&dir).expect("stat test cgroup").ino();
        let procs = CString::new(
            dir.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .expect("path without NUL");
        TestCgroup {
            dir,
            id,
            container_id,
            parent,
            created_parent,
            procs,
        }
    }

    /// Forks a child that moves itself into this cgroup, does `action`, and exits;
    /// returns the child's pid and its exit code.
    pub fn run(&self, action: &Action) -> (u32, i32) {
        let exec_argv: Vec<*const libc::c_char> = match action {
            Action::Exec(path) => vec![path.as_ptr(), std::ptr::null()],
            _ => Vec::new(),
        };
        // SAFETY: fork has no preconditions; the child below only makes
        // async-signal-safe system calls on memory prepared before the fork, then
        // execs or _exits, so the parent's other threads do not matter.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: see above; every pointer is a valid NUL-terminated string or null.
            unsafe { child(&self.procs, action, &exec_argv) }
        }
        let mut status = 0;
        // SAFETY: waits for our own child; status is a valid out pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        (pid as u32, code)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
        if self.created_parent {
            // fails while another test cgroup still lives in it: then that one removes it
            let _ = std::fs::remove_dir(&self.parent);
        }
    }
}

/// What a child does inside the cgroup.
pub enum Action {
    /// execv the file.
    Exec(CString),
    /// open (O_RDONLY) and close the path, this many times.
    Open(CString, u32),
    /// mount proc on the directory, then unmount it.
    MountProc(CString),
    /// fsopen("proc") + fsmount + move_mount onto the directory, then unmount it.
    NewApiMountProc(CString),
}

pub fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("path without NUL")
}

const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// The forked child. Exit codes: 0 ok, 10 cgroup move failed, 11 exec failed,
/// 12 mount failed, 13 new mount API failed.
///
/// # Safety
/// Only to be called in a freshly forked child; pointers must be valid.
unsafe fn child(procs: &CString, action: &Action, exec_argv: &[*const libc::c_char]) -> ! {
    // SAFETY (whole body): raw system calls on valid NUL-terminated strings.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
        if fd < 0 || libc::write(fd, c"0".as_ptr().cast(), 1) != 1 {
            libc::_exit(10);
        }
        libc::close(fd);
        match action {
            Action::Exec(path) => {
                libc::execv(path.as_ptr(), exec_argv.as_ptr());
                libc::_exit(11);
            }
            Action::Open(path, n) => {
                for _ in 0..*n {
                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
                libc::_exit(0);
            }
            Action::MountProc(target) => {
                let proc_ = c"proc";
                if libc::mount(
                    proc_.as_ptr(),
                    target.as_ptr(),
                    proc_.as_ptr(),
                    0,
                    std::ptr::null(),
                ) != 0
                {
                    libc::_exit(12);
                }
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
                libc::_exit(0);
            }
            Action::NewApiMountProc(target) => {
                let fs = libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), 0) as libc::c_int;
                if fs < 0 {
                    libc::_exit(13);
                }
                let null: *const libc::c_char = std::ptr::null();
                if libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, null, null, 0) != 0 {
                    libc::_exit(13);
                }
                let mnt = libc::syscall(libc::SYS_fsmount, fs, 0, 0) as libc::c_int;
                if mnt < 0 {
                    libc::_exit(13);
                }
                if libc::syscall(
                    libc::SYS_move_mount,
                    mnt,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ) != 0
                {
                    libc::_exit(13);
                }
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
                libc::_exit(0);
            }
        }
    }
}

/// The path the probe watches for service-account secret reads.
pub const TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The service-account token file, created (with its missing parents) if absent and
/// removed again on drop.
pub struct SecretFile {
    created: Vec<PathBuf>,
}

impl SecretFile {
    pub fn ensure(path: &Path) -> SecretFile {
        let mut created = Vec::new();
        let mut missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
        missing.reverse();
        for p in missing {
            if p == path {
                std::fs::write(p, b"test-token").expect("create token file");
            } else {
                std::fs::create_dir(p).expect("create secrets dir");
            }
            created.push(p.to_path_buf());
        }
        SecretFile { created }
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        for p in self.created.iter().rev() {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
        }
    }
}
