//! The `CGroup:` tree of `unitctl status`: which directory holds a unit's cgroup, the processes in it and its
//! sub-cgroups, rendered like systemd's `show_cgroup_by_path`.
//!
//! Where the cgroup is: on cgroup v2 (a `cgroup2` mount at `/sys/fs/cgroup`) it is that mount plus
//! `ControlGroup`; on v1 it is `ControlGroup` under the hierarchy unitd tracks processes in — `pids`, else
//! `freezer`, `memory`, `cpu`, then any other — with mount points from `/proc/self/mountinfo`; a hybrid host's
//! `cgroup2` mount comes last. The first candidate directory that exists wins.
//!
//! Parsing mountinfo and rendering are pure; [`read_tree`] reads `cgroup.procs` and `/proc/PID/cmdline`.

use std::path::{Path, PathBuf};

/// One mount of a cgroup filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `cgroup2` or `cgroup`.
    pub fs_type: String,
    /// The super options: the v1 controllers (`pids`, `cpu,cpuacct`, `name=systemd`).
    pub options: Vec<String>,
}

/// The cgroup mounts in a `/proc/self/mountinfo` text.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fs_type = right.next()?;
            if fs_type != "cgroup" && fs_type != "cgroup2" {
                return None;
            }
            let _source = right.next()?;
            let options = right
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::to_string)
                .collect();
            Some(CgroupMount {
                mount_point: PathBuf::from(unescape_octal(mount_point)),
                fs_type: fs_type.to_string(),
                options,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and friends as `\040`.
fn unescape_octal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if digits.len() == 3 {
                if let Ok(n) = u8::from_str_radix(&digits, 8) {
                    out.push(char::from(n));
                    for _ in 0..3 {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// The directories that may hold cgroup `control_group`, best first.
pub fn candidate_dirs(mounts: &[CgroupMount], control_group: &str) -> Vec<PathBuf> {
    let relative = control_group.trim_start_matches('/');
    let join = |m: &CgroupMount| m.mount_point.join(relative);
    let mut out = Vec::new();
    let unified_root = mounts
        .iter()
        .find(|m| m.fs_type == "cgroup2" && m.mount_point == Path::new("/sys/fs/cgroup"));
    if let Some(m) = unified_root {
        out.push(join(m));
    }
    let v1: Vec<&CgroupMount> = mounts.iter().filter(|m| m.fs_type == "cgroup").collect();
    for controller in ["pids", "freezer", "memory", "cpu"] {
        if let Some(m) = v1
            .iter()
            .find(|m| m.options.iter().any(|o| o == controller))
        {
            out.push(join(m));
        }
    }
    for m in &v1 {
        out.push(join(m));
    }
    for m in mounts.iter().filter(|m| m.fs_type == "cgroup2") {
        out.push(join(m));
    }
    out.dedup();
    out
}

/// The directory of `control_group` on this host, if it exists.
pub fn find_cgroup_dir(control_group: &str) -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    candidate_dirs(&parse_mountinfo(&mountinfo), control_group)
        .into_iter()
        .find(|d| d.is_dir())
}

/// A cgroup with its processes and non-empty children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupNode {
    /// The directory name (`hello.service`, `sub.scope`).
    pub name: String,
    /// Pids in `cgroup.procs` with their command lines, by pid.
    pub procs: Vec<(u32, String)>,
    /// Sub-cgroups that have processes somewhere below them, by name.
    pub children: Vec<CgroupNode>,
}

impl CgroupNode {
    /// Whether no process is in this cgroup or below.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty() && self.children.iter().all(CgroupNode::is_empty)
    }
}

/// Reads the cgroup at `dir` and everything below it (empty sub-cgroups left out).
pub fn read_tree(dir: &Path) -> CgroupNode {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut pids: Vec<u32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default();
    pids.sort_unstable();
    pids.dedup();
    let procs = pids.into_iter().map(|p| (p, process_cmdline(p))).collect();
    let mut children: Vec<CgroupNode> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| read_tree(&e.path()))
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    CgroupNode {
        name,
        procs,
        children,
    }
}

/// `/proc/PID/cmdline` with spaces, or `[comm]` for kernel threads and processes without one.
pub fn process_cmdline(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !args.is_empty() {
        return args.join(" ");
    }
    match process_comm(pid) {
        Some(comm) => format!("[{comm}]"),
        None => "n/a".to_string(),
    }
}

/// `/proc/PID/comm`.
pub fn process_comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// The tree below the `CGroup:` line: `prefix` then `├─`/`└─`, pids right-aligned to the widest, then the
/// command line; sub-cgroups by name with their own trees indented under `│ ` or two spaces.
pub fn render_tree(node: &CgroupNode, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let children: Vec<&CgroupNode> = node.children.iter().filter(|c| !c.is_empty()).collect();
    let width = node
        .procs
        .iter()
        .map(|(p, _)| p.to_string().len())
        .max()
        .unwrap_or(0);
    let more = !children.is_empty();
    for (i, (pid, cmdline)) in node.procs.iter().enumerate() {
        let glyph = if more || i + 1 < node.procs.len() {
            "├─"
        } else {
            "└─"
        };
        out.push(format!("{prefix}{glyph}{pid:>width$} {cmdline}"));
    }
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (glyph, indent) = if last {
            ("└─", "  ")
        } else {
            ("├─", "│ ")
        };
        out.push(format!("{prefix}{glyph}{}", child.name));
        out.extend(render_tree(child, &format!("{prefix}{indent}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    const V2: &str = "\
30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
50 23 0:40 / /mnt/my\\040disk rw - ext4 /dev/sda1 rw
";

    #[test]
    fn v1_prefers_pids_then_memory() {
        let mounts = parse_mountinfo(V1);
        assert_eq!(mounts.len(), 5);
        let dirs = candidate_dirs(&mounts, "/flotilla.slice/hello.service");
        assert_eq!(
            dirs[..3],
            [
                PathBuf::from("/sys/fs/cgroup/pids/flotilla.slice/hello.service"),
                PathBuf::from("/sys/fs/cgroup/memory/flotilla.slice/hello.service"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/flotilla.slice/hello.service"),
            ]
        );
        assert_eq!(
            dirs.last(),
            Some(&PathBuf::from(
                "/sys/fs/cgroup/unified/flotilla.slice/hello.service"
            ))
        );
    }

    #[test]
    fn v2_uses_the_unified_root() {
        let mounts = parse_mountinfo(V2);
        assert_eq!(mounts.len(), 1);
        assert_eq!(
            candidate_dirs(&mounts, "/flotilla.slice/hello.service"),
            [PathBuf::from("/sys/fs/cgroup/flotilla.slice/hello.service")]
        );
        assert_eq!(unescape_octal("/mnt/my\\040disk"), "/mnt/my disk");
    }

    #[test]
    fn renders_like_systemd() {
        let node = CgroupNode {
            name: "hello.service".into(),
            procs: vec![(99, "/bin/sh -c x".into()), (1234, "sleep 100".into())],
            children: vec![
                CgroupNode {
                    name: "a.scope".into(),
                    procs: vec![(7, "[kworker]".into())],
                    children: vec![],
                },
                CgroupNode {
                    name: "empty".into(),
                    procs: vec![],
                    children: vec![],
                },
                CgroupNode {
                    name: "b.scope".into(),
                    procs: vec![(8, "b".into()), (10, "c".into())],
                    children: vec![],
                },
            ],
        };
        assert_eq!(
            render_tree(&node, "             "),
            [
                "             ├─  99 /bin/sh -c x",
                "             ├─1234 sleep 100",
                "             ├─a.scope",
                "             │ └─7 [kworker]",
                "             └─b.scope",
                "               ├─ 8 b",
                "               └─10 c",
            ]
        );
        let single = CgroupNode {
            name: "x".into(),
            procs: vec![(5, "sleep 1".into())],
            children: vec![],
        };
        assert_eq!(render_tree(&single, ""), ["└─5 sleep 1"]);
    }

    #[test]
    fn reads_a_cgroup_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("hello.service");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let me = std::process::id();
        std::fs::write(dir.join("cgroup.procs"), format!("{me}\n")).unwrap();
        std::fs::write(dir.join("sub/cgroup.procs"), format!("{me}\n")).unwrap();
        let tree = read_tree(&dir);
        assert_eq!(tree.name, "hello.service");
        assert_eq!(tree.procs.len(), 1);
        assert!(!tree.procs[0].1.is_empty());
        assert_eq!(tree.children.len(), 1);
        assert_eq!(tree.children[0].name, "sub");
    }
}
