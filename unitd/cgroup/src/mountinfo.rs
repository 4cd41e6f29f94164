//! Finding the cgroup hierarchies from `/proc/self/mountinfo`.
//!
//! Owns the parsing of mountinfo lines and the decision between the two layouts:
//! - **v2** (unified): a `cgroup2` filesystem mounted at `/sys/fs/cgroup` — one tree for every controller.
//! - **v1** (legacy/hybrid): one `cgroup` mount per hierarchy, each naming its controllers in the super options
//!   (`rw,cpu,cpuacct` when co-mounted). A hybrid host's extra `cgroup2` at `/sys/fs/cgroup/unified` is ignored,
//!   as are hierarchies with none of the controllers unitd uses (`name=systemd`, `devices`, `net_cls`, …).
//!
//! [`Layout::from_mounts`] is a pure function of the parsed lines so both layouts are testable anywhere.

use std::path::{Path, PathBuf};

/// Where cgroupfs is conventionally mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers unitd puts each unit into (a hierarchy carrying any of them gets a unit cgroup).
pub const V1_CONTROLLERS: &[&str] = &[
    "pids", "memory", "cpu", "cpuacct", "cpuset", "blkio", "freezer",
];

/// One mountinfo line, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The path inside the filesystem that is mounted (a cgroup path for cgroupfs; `/` normally).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `cgroup`, `cgroup2`, `tmpfs`, …
    pub fstype: String,
    /// The per-superblock options: for v1 cgroupfs these name the hierarchy's controllers.
    pub super_options: Vec<String>,
}

/// Parses mountinfo text, skipping lines that don't have the expected shape.
pub fn parse_mountinfo(content: &str) -> Vec<Mount> {
    content.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    // id parent major:minor root mount_point options [optional…] - fstype source super_options
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let root = unescape_octal(fields.get(3)?);
    let mount_point = PathBuf::from(unescape_octal(fields.get(4)?));
    let mut after = after.split(' ');
    let fstype = after.next()?.to_string();
    let _source = after.next()?;
    let super_options = after
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    Some(Mount {
        root,
        mount_point,
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` octal.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One v1 hierarchy unitd uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The controllers of [`V1_CONTROLLERS`] it carries (`["cpu", "cpuacct"]` when co-mounted).
    pub controllers: Vec<String>,
    /// Its mount point, e.g. `/sys/fs/cgroup/memory`; the slice directory goes right below it.
    pub mount_point: PathBuf,
}

impl Hierarchy {
    /// Whether this hierarchy carries `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// Which cgroup layout the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Unified hierarchy mounted at `root`.
    V2 {
        /// The cgroup2 mount point (`/sys/fs/cgroup`).
        root: PathBuf,
    },
    /// Legacy hierarchies, one per mount.
    V1 {
        /// The hierarchies carrying controllers unitd uses, in mountinfo order.
        hierarchies: Vec<Hierarchy>,
    },
}

impl Layout {
    /// Decides the layout from parsed mounts: cgroup2 at `cgroup_root` → v2; else the v1 controller mounts;
    /// else a cgroup2 mounted anywhere → v2 there; else `None`.
    pub fn from_mounts(mounts: &[Mount], cgroup_root: &Path) -> Option<Layout> {
        if mounts
            .iter()
            .any(|m| m.fstype == "cgroup2" && m.mount_point == cgroup_root)
        {
            return Some(Layout::V2 {
                root: cgroup_root.to_path_buf(),
            });
        }
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
            let controllers: Vec<String> = m
                .super_options
                .iter()
                .filter(|o| V1_CONTROLLERS.contains(&o.as_str()))
                .cloned()
                .collect();
            if controllers.is_empty() {
                continue;
            }
            // The same hierarchy mounted twice (bind mounts): keep the first.
            if hierarchies.iter().any(|h| h.controllers == controllers) {
                continue;
            }
            hierarchies.push(Hierarchy {
                controllers,
                mount_point: m.mount_point.clone(),
            });
        }
        for wanted in V1_CONTROLLERS {
            if !hierarchies.is_empty() && !hierarchies.iter().any(|h| h.has(wanted)) {
                tracing::debug!(
                    controller = wanted,
                    "cgroup v1 controller not mounted; skipped"
                );
            }
        }
        if !hierarchies.is_empty() {
            return Some(Layout::V1 { hierarchies });
        }
        mounts
            .iter()
            .find(|m| m.fstype == "cgroup2")
            .map(|m| Layout::V2 {
                root: m.mount_point.clone(),
            })
    }
}

/// Whether `path` is a cgroup2 filesystem, by its statfs magic.
pub fn is_cgroup2(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c_path is NUL-terminated and st points to writable memory of the right size.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: statfs returned 0, so it filled in the struct.
    let st = unsafe { st.assume_init() };
    st.f_type == libc::CGROUP2_SUPER_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_HOST: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const COMOUNTED: &str = "\
25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:14 - cgroup cgroup rw,memory
31 25 0:27 / /mnt/memory\\040again rw - cgroup cgroup rw,memory
";

    const V2_HOST: &str = "\
22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn layout(text: &str) -> Option<Layout> {
        Layout::from_mounts(&parse_mountinfo(text), Path::new(CGROUP_ROOT))
    }

    #[test]
    fn v1_host_with_hybrid_unified() {
        let Some(Layout::V1 { hierarchies }) = layout(V1_HOST) else {
            panic!("expected v1");
        };
        let names: Vec<String> = hierarchies
            .iter()
            .map(|h| h.controllers.join(","))
            .collect();
        assert_eq!(
            names,
            ["cpu", "cpuacct", "cpuset", "memory", "freezer", "blkio", "pids"]
        );
        assert_eq!(
            hierarchies[3].mount_point,
            Path::new("/sys/fs/cgroup/memory")
        );
    }

    #[test]
    fn v1_comounted_and_duplicate_mounts() {
        let Some(Layout::V1 { hierarchies }) = layout(COMOUNTED) else {
            panic!("expected v1");
        };
        assert_eq!(hierarchies.len(), 2);
        assert_eq!(hierarchies[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            hierarchies[0].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(hierarchies[0].has("cpuacct"));
    }

    #[test]
    fn v2_host() {
        assert_eq!(
            layout(V2_HOST),
            Some(Layout::V2 {
                root: PathBuf::from(CGROUP_ROOT)
            })
        );
    }

    #[test]
    fn nothing_mounted() {
        assert_eq!(layout("22 1 0:21 / /sys rw - sysfs sysfs rw\n"), None);
        assert_eq!(layout("garbage\n"), None);
    }

    #[test]
    fn octal_escapes() {
        let m = parse_mountinfo(COMOUNTED);
        assert_eq!(m[4].mount_point, Path::new("/mnt/memory again"));
        assert_eq!(unescape_octal("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape_octal("tail\\04"), "tail\\04");
    }
}
