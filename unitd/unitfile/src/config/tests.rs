//! Tests of the typed configuration: settings, defaults, resets across drop-ins, diagnostics with file:line.

use super::*;
use crate::diag::Severity;
use crate::signal::{SIGKILL, SIGTERM};

fn specs() -> Specifiers {
    Specifiers::for_tests()
}

fn unit(name: &str, text: &str) -> UnitConfig {
    let n = UnitName::parse(name).unwrap();
    UnitConfig::from_text(
        &n,
        Path::new(&format!("/etc/systemd/system/{name}")),
        text,
        &specs(),
    )
}

fn svc(text: &str) -> ServiceConfig {
    let u = unit("web.service", text);
    assert!(!u.has_errors(), "unexpected errors: {:?}", u.warnings);
    u.service.unwrap()
}

/// "line|severity|message" of each diagnostic.
fn diags(u: &UnitConfig) -> Vec<String> {
    u.warnings
        .iter()
        .map(|d| format!("{}|{}|{}", d.line, d.severity, d.message))
        .collect()
}

fn argv(cmds: &[ExecCommand]) -> Vec<Vec<String>> {
    cmds.iter().map(|c| c.argv.clone()).collect()
}

use crate::exec::ExecCommand;

#[test]
fn service_settings_are_typed() {
    let s = svc("[Unit]\nDescription=Web on %H\n\n[Service]\nType=notify\nExecStartPre=-/bin/mkdir -p /run/web\n\
         ExecStart=/usr/bin/web --port 80\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/true\n\
         ExecStopPost=/bin/true\nRestart=on-failure\nRestartSec=5min 20s\nTimeoutStartSec=1.5s\n\
         TimeoutStopSec=infinity\nWatchdogSec=30\nKillMode=mixed\nKillSignal=INT\nFinalKillSignal=15\n\
         SendSIGKILL=no\nSendSIGHUP=yes\nSuccessExitStatus=3 SIGUSR1 NOTINSTALLED\nRestartPreventExitStatus=255\n\
         User=www\nGroup=1000\nUMask=0077\nWorkingDirectory=-/srv/web\nPIDFile=web.pid\nRemainAfterExit=yes\n\
         GuessMainPID=off\nNotifyAccess=all\n");
    assert_eq!(s.service_type, ServiceType::Notify);
    assert_eq!(
        argv(&s.exec_start),
        vec![vec!["/usr/bin/web", "--port", "80"]]
    );
    assert!(s.exec_start_pre[0].flags.ignore_failure);
    assert_eq!(s.exec_reload[0].argv[2], "$MAINPID");
    assert_eq!(s.exec_stop.len(), 1);
    assert_eq!(s.exec_stop_post.len(), 1);
    assert_eq!(s.restart, RestartPolicy::OnFailure);
    assert_eq!(s.restart_sec, Duration::from_secs(320));
    assert_eq!(s.timeout_start_sec, Some(Duration::from_millis(1500)));
    assert_eq!(s.timeout_stop_sec, None);
    assert_eq!(s.watchdog_sec, Some(Duration::from_secs(30)));
    assert_eq!(s.kill.kill_mode, KillMode::Mixed);
    assert_eq!(s.kill.kill_signal, 2);
    assert_eq!(s.kill.final_kill_signal, SIGTERM);
    assert!(!s.kill.send_sigkill);
    assert!(s.kill.send_sighup);
    assert_eq!(s.success_exit_status.statuses, vec![3, 5]);
    assert_eq!(s.success_exit_status.signals, vec![10]);
    assert_eq!(s.restart_prevent_exit_status.statuses, vec![255]);
    assert_eq!(s.exec_context.user.as_deref(), Some("www"));
    assert_eq!(s.exec_context.group.as_deref(), Some("1000"));
    assert_eq!(s.exec_context.umask, 0o077);
    assert_eq!(
        s.exec_context.working_directory,
        Some(WorkingDirectory::Path {
            path: PathBuf::from("/srv/web"),
            missing_ok: true
        })
    );
    assert_eq!(s.pid_file, Some(PathBuf::from("/run/web.pid")));
    assert!(s.remain_after_exit);
    assert!(!s.guess_main_pid);
    assert_eq!(s.notify_access, NotifyAccess::All);
}

#[test]
fn service_defaults_follow_systemd() {
    let s = svc("[Service]\nExecStart=/bin/true\n");
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.restart, RestartPolicy::No);
    assert_eq!(s.restart_sec, Duration::from_millis(100));
    assert_eq!(s.timeout_start_sec, Some(Duration::from_secs(90)));
    assert_eq!(s.timeout_stop_sec, Some(Duration::from_secs(90)));
    assert_eq!(s.kill.kill_mode, KillMode::ControlGroup);
    assert_eq!(s.kill.kill_signal, SIGTERM);
    assert_eq!(s.kill.final_kill_signal, SIGKILL);
    assert!(s.kill.send_sigkill);
    assert_eq!(s.exec_context.umask, 0o022);
    assert_eq!(s.exec_context.standard_output, StandardOutput::Journal);
    assert_eq!(s.exec_context.standard_error, StandardOutput::Inherit);
    assert_eq!(s.notify_access, NotifyAccess::None);
    assert!(s.guess_main_pid);
    assert_eq!(s.resources, Resources::default());

    // No Type=: oneshot without ExecStart (and then no start timeout), dbus with BusName=.
    let s = svc("[Service]\nRemainAfterExit=yes\nExecStop=/bin/true\n");
    assert_eq!(s.service_type, ServiceType::Oneshot);
    assert_eq!(s.timeout_start_sec, None);
    let s = svc("[Service]\nBusName=org.example.Web\nExecStart=/bin/web\n");
    assert_eq!(s.service_type, ServiceType::Dbus);
    let s = svc("[Service]\nType=idle\nExecStart=/bin/web\nWatchdogSec=5\n");
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.notify_access, NotifyAccess::Main);
    let s = svc("[Service]\nType=notify\nExecStart=/bin/web\n");
    assert_eq!(s.notify_access, NotifyAccess::Main);
    let u = unit("t.target", "[Unit]\nDescription=x\n");
    assert!(u.service.is_none());
    assert_eq!(u.start_limit_interval, Duration::from_secs(10));
    assert_eq!(u.start_limit_burst, 5);
    assert!(u.default_dependencies);
}

#[test]
fn timeouts_table() {
    // (settings, start, stop)
    let cases: &[(&str, Option<u64>, Option<u64>)] = &[
        ("TimeoutSec=5", Some(5000), Some(5000)),
        ("TimeoutSec=0", None, None),
        ("TimeoutSec=infinity", None, None),
        ("TimeoutSec=5\nTimeoutStopSec=7", Some(5000), Some(7000)),
        ("TimeoutStopSec=7\nTimeoutSec=5", Some(5000), Some(5000)),
        ("TimeoutStartSec=100ms", Some(100), Some(90_000)),
        ("TimeoutStartSec=2min", Some(120_000), Some(90_000)),
        ("TimeoutSec=bogus", Some(90_000), Some(90_000)),
    ];
    for (settings, start, stop) in cases {
        let u = unit(
            "web.service",
            &format!("[Service]\nExecStart=/bin/web\n{settings}\n"),
        );
        let s = u.service.unwrap();
        let ms = |v: &Option<u64>| v.map(Duration::from_millis);
        assert_eq!(s.timeout_start_sec, ms(start), "{settings}");
        assert_eq!(s.timeout_stop_sec, ms(stop), "{settings}");
    }
}

#[test]
fn list_resets_table() {
    // (settings, expected ExecStartPre argv0s, expected Environment names, After names)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "ExecStartPre=/bin/a\nExecStartPre=/bin/b",
            &["/bin/a", "/bin/b"],
            &[],
            &[],
        ),
        (
            "ExecStartPre=/bin/a\nExecStartPre=\nExecStartPre=/bin/b",
            &["/bin/b"],
            &[],
            &[],
        ),
        ("ExecStartPre=/bin/a\nExecStartPre=", &[], &[], &[]),
        (
            "Environment=A=1 B=2\nEnvironment=C=3",
            &[],
            &["A", "B", "C"],
            &[],
        ),
        (
            "Environment=A=1 B=2\nEnvironment=\nEnvironment=C=3",
            &[],
            &["C"],
            &[],
        ),
        (
            "After=a.service b.service\nAfter=c.service",
            &[],
            &[],
            &["a.service", "b.service", "c.service"],
        ),
        (
            "After=a.service b.service\nAfter=\nAfter=c.service",
            &[],
            &[],
            &["c.service"],
        ),
    ];
    for (settings, pre, env, after) in cases {
        let (unit_part, svc_part): (Vec<&str>, Vec<&str>) =
            settings.lines().partition(|l| l.starts_with("After"));
        let text = format!(
            "[Unit]\n{}\n[Service]\nExecStart=/bin/web\n{}\n",
            unit_part.join("\n"),
            svc_part.join("\n")
        );
        let u = unit("web.service", &text);
        assert!(!u.has_errors(), "{settings}: {:?}", u.warnings);
        let s = u.service.clone().unwrap();
        let got_pre: Vec<&str> = s
            .exec_start_pre
            .iter()
            .map(|c| c.argv[0].as_str())
            .collect();
        assert_eq!(&got_pre, pre, "{settings}");
        let got_env: Vec<&str> = s
            .exec_context
            .environment
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(&got_env, env, "{settings}");
        let got_after: Vec<&str> = u.after.iter().map(|d| d.unit.as_str()).collect();
        assert_eq!(&got_after, after, "{settings}");
    }
}

#[test]
fn dropin_resets_exec_start_of_fragment() {
    let name = UnitName::parse("web.service").unwrap();
    let frag = crate::lexer::parse_bytes(
        Path::new("/usr/lib/systemd/system/web.service"),
        b"[Unit]\nAfter=net.target\n[Service]\nExecStart=/usr/bin/web --old\nEnvironment=A=1\n",
    );
    let dropin = crate::lexer::parse_bytes(
        Path::new("/etc/systemd/system/web.service.d/override.conf"),
        b"[Service]\nExecStart=\nExecStart=/usr/bin/web --new\nEnvironment=A=2 B=3\n",
    );
    let u = UnitConfig::from_files(&name, &[frag, dropin], true, &specs());
    assert!(!u.has_errors(), "{:?}", u.warnings);
    let s = u.service.as_ref().unwrap();
    assert_eq!(argv(&s.exec_start), vec![vec!["/usr/bin/web", "--new"]]);
    assert_eq!(
        s.exec_start[0].file,
        PathBuf::from("/etc/systemd/system/web.service.d/override.conf")
    );
    assert_eq!(s.exec_start[0].line, 3);
    assert_eq!(
        s.exec_context.environment,
        vec![("A".into(), "2".into()), ("B".into(), "3".into())]
    );
    assert_eq!(
        u.fragment_path,
        Some(PathBuf::from("/usr/lib/systemd/system/web.service"))
    );
    assert_eq!(
        u.dropin_paths,
        vec![PathBuf::from(
            "/etc/systemd/system/web.service.d/override.conf"
        )]
    );
    assert_eq!(u.after[0].line, 2);

    // Without the reset, the drop-in adds a second ExecStart= and the unit is refused at the drop-in's line.
    let frag = crate::lexer::parse_bytes(
        Path::new("/f/web.service"),
        b"[Service]\nExecStart=/usr/bin/web\n",
    );
    let dropin = crate::lexer::parse_bytes(
        Path::new("/f/web.service.d/x.conf"),
        b"[Service]\nExecStart=/bin/x\n",
    );
    let u = UnitConfig::from_files(&name, &[frag, dropin], true, &specs());
    let errs: Vec<String> = u.errors().map(|d| d.to_string()).collect();
    assert_eq!(
        errs,
        vec!["/f/web.service.d/x.conf:2: Service has more than one ExecStart= setting, which is only allowed for \
              Type=oneshot services. Refusing."
            .to_string()]
    );
}

#[test]
fn unknown_things_are_warnings_and_kept_raw() {
    let u = unit(
        "web.service",
        "[Unit]\nBogus=1\nX-Custom=2\n[Service]\nExecStart=/bin/web\nListenStream=80\n[X-Fleet]\nMachineOf=db.service\n\
         [Weird]\nk=v\n[Socket]\nListenStream=81\n",
    );
    assert!(!u.has_errors());
    assert_eq!(
        diags(&u),
        vec![
            "2|warning|Unknown key 'Bogus' in section [Unit], ignoring.",
            "6|warning|Unknown key 'ListenStream' in section [Service], ignoring.",
            "9|warning|Unknown section 'Weird'. Ignoring.",
            "11|warning|Unknown section 'Socket'. Ignoring.",
        ]
    );
    assert_eq!(u.raw.values("X-Fleet", "MachineOf"), vec!["db.service"]);
    assert_eq!(
        u.raw
            .last("Unit", "Bogus")
            .map(|e| (e.value.as_str(), e.line)),
        Some(("1", 2))
    );
    assert_eq!(u.raw.values("Weird", "k"), vec!["v"]);
    let d = &u.warnings[0];
    assert_eq!(
        d.to_string(),
        "/etc/systemd/system/web.service:2: Unknown key 'Bogus' in section [Unit], ignoring."
    );
}

#[test]
fn on_failure_and_on_success_job_modes() {
    let u = unit("web.service", "[Service]\nExecStart=/bin/true\n");
    assert_eq!(
        (
            u.on_failure_job_mode.as_str(),
            u.on_success_job_mode.as_str()
        ),
        ("replace", "replace")
    );
    let u = unit(
        "web.service",
        "[Unit]\nOnFailureJobMode=fail\nOnSuccessJobMode=ignore-dependencies\n\
         [Service]\nExecStart=/bin/true\n",
    );
    assert!(diags(&u).is_empty(), "{:?}", diags(&u));
    assert_eq!(
        (
            u.on_failure_job_mode.as_str(),
            u.on_success_job_mode.as_str()
        ),
        ("fail", "ignore-dependencies")
    );
    // A mode systemd does not know is ignored with its warning; the default stays.
    let u = unit(
        "web.service",
        "[Unit]\nOnFailureJobMode=eventually\n[Service]\nExecStart=/bin/true\n",
    );
    assert_eq!(
        diags(&u),
        ["2|warning|Job mode eventually invalid, ignoring."]
    );
    assert_eq!(u.on_failure_job_mode, "replace");
}

#[test]
fn diagnostics_table() {
    // (unit text, expected diagnostics "line|severity|message")
    let cases: &[(&str, &[&str])] = &[
        (
            "[Service]\nExecStart=/bin/echo \"unterminated\n",
            &["2|error|Unbalanced quoting, ignoring: \"/bin/echo \"unterminated\""],
        ),
        (
            "[Service]\nExecStart=/bin/true\nType=weird\n",
            &["3|error|Unknown service type 'weird', refusing to guess how to run it."],
        ),
        (
            "[Service]\nExecStart=/bin/true\nRestart=sometimes\n",
            &["3|warning|Failed to parse service restart specifier, ignoring: sometimes"],
        ),
        (
            "[Service]\nExecStart=/bin/true\nRestartSec=5x\n",
            &["3|warning|Failed to parse sec value, ignoring: 5x"],
        ),
        (
            "[Unit]\nStartLimitBurst=many\n[Service]\nExecStart=/bin/true\n",
            &["2|warning|Failed to parse unsigned value, ignoring: many"],
        ),
        (
            "[Unit]\nDescription=x\n\n[Service]\nType=simple\n",
            &["4|error|Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing."],
        ),
        (
            "[Service]\nType=simple\nExecStop=/bin/true\n",
            &["1|error|Service has no ExecStart= setting, which is only allowed for Type=oneshot services. Refusing."],
        ),
        (
            "[Service]\nType=oneshot\nExecStop=/bin/true\n",
            &["1|error|Service has no ExecStart= and no SuccessAction= settings and does not have \
               RemainAfterExit=yes set. Refusing."],
        ),
        ("[Service]\nType=oneshot\nExecStop=/bin/true\nRemainAfterExit=yes\n", &[]),
        ("[Unit]\nSuccessAction=exit\n[Service]\nType=oneshot\n", &[]),
        (
            "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n",
            &["3|error|Service has more than one ExecStart= setting, which is only allowed for Type=oneshot \
               services. Refusing."],
        ),
        ("[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\n", &[]),
        (
            "[Service]\nType=oneshot\nExecStart=/bin/a\nRestart=always\n",
            &["1|error|Service has Restart= set to either always or on-success, which isn't allowed for \
               Type=oneshot services. Refusing."],
        ),
        (
            "[Service]\nType=dbus\nExecStart=/bin/a\n",
            &["1|error|Service is of type D-Bus but no D-Bus service name has been specified. Refusing."],
        ),
        (
            "ExecStart=/bin/a\n[Service]\nExecStart=/bin/a\n",
            &["1|error|Assignment outside of section."],
        ),
        (
            "[Service]\nExecStart=/bin/echo %z\n",
            &["2|error|Failed to resolve unit specifiers in %z: unknown specifier '%z'"],
        ),
        (
            "[Unit]\nDescription=%z\n[Service]\nExecStart=/bin/a\n",
            &["2|warning|Failed to resolve unit specifiers in '%z', ignoring: unknown specifier '%z'"],
        ),
        (
            "[Service]\nExecStart=/bin/a\nWorkingDirectory=rel\n",
            &["3|error|WorkingDirectory= path is not absolute: rel"],
        ),
        (
            "[Service]\nExecStart=/bin/a\nWorkingDirectory=-rel\n",
            &["3|warning|WorkingDirectory= path is not absolute, ignoring: rel"],
        ),
        (
            "[Service]\nExecStart=/bin/a\nUser=a:b\n",
            &["3|error|Invalid user/group name or numeric ID: a:b"],
        ),
        (
            "[Service]\nExecStart=bin/a\n",
            &["2|error|Neither a valid executable name nor an absolute path: bin/a"],
        ),
        (
            "[Service]\nExecStart=/bin/a \\q\n",
            &["2|warning|Ignoring unknown escape sequences: \"\\q\""],
        ),
        (
            "[Service]\nExecStart=/bin/a\nEnvironment=\"A=1 2\" 1x=3 \"B\n",
            &[
                "3|warning|Invalid environment assignment, ignoring: 1x=3",
                "3|warning|Invalid syntax, ignoring: \"A=1 2\" 1x=3 \"B",
            ],
        ),
        (
            "[Service]\nExecStart=/bin/a\nKillSignal=SIGFOO\nUMask=999\nKillMode=bad\nMemoryMax=1k\n",
            &[
                "3|warning|Failed to parse signal name, ignoring: SIGFOO",
                "4|warning|Failed to parse mode value, ignoring: 999",
                "5|warning|Failed to parse kill mode specification, ignoring: bad",
                "6|warning|Invalid memory limit '1k', ignoring: Invalid argument",
            ],
        ),
        (
            "[Unit]\nAfter=bad/name.service foo\n[Service]\nExecStart=/bin/a\n",
            &[
                "2|warning|Failed to add dependency on bad/name.service, ignoring: Invalid argument",
                "2|warning|Failed to add dependency on foo, ignoring: Invalid argument",
            ],
        ),
        ("[Service\nExecStart=/bin/a\n", &["1|error|Invalid section header '[Service'"]),
        (
            "[Service]\nExecStart=/bin/a\nnoequals\n",
            &["3|warning|Missing '=', ignoring line."],
        ),
        (
            "[Service]\nExecStart=/bin/a\nUser=nobody\nBusName=foo\nBusName=a..b\nBusName=:1.2\n",
            &[
                "3|warning|Special user nobody configured, this is not safe!",
                "4|warning|Invalid bus name, ignoring: foo",
                "5|warning|Invalid bus name, ignoring: a..b",
            ],
        ),
        // Lines of sections the unit does not read are not looked at.
        (
            "[Service]\nExecStart=/bin/a\n[X-Fleet]\nnoequals\n[Weird]\nalso\n",
            &["5|warning|Unknown section 'Weird'. Ignoring."],
        ),
        (
            "[Service]\nExecStart=/bin/a\nStandardOutput=syslog\n",
            &["3|warning|Standard output type syslog is obsolete, automatically updating to journal. Please \
               update your unit file, and consider removing the setting altogether."],
        ),
    ];
    for (text, want) in cases {
        let u = unit("web.service", text);
        assert_eq!(&diags(&u), want, "unit:\n{text}");
    }
}

#[test]
fn environment_quoting() {
    let s = svc(
        "[Service]\nExecStart=/bin/a\nEnvironment=\"A=1 2\" B=3 'C=x\\ty' D=%n\nEnvironment=B=4\n",
    );
    assert_eq!(
        s.exec_context.environment,
        vec![
            ("A".to_string(), "1 2".to_string()),
            ("B".to_string(), "4".to_string()),
            ("C".to_string(), "x\ty".to_string()),
            ("D".to_string(), "web.service".to_string()),
        ]
    );
    let s = svc("[Service]\nExecStart=/bin/a\nEnvironmentFile=-/etc/default/web\nEnvironmentFile=/etc/web.env\n");
    assert_eq!(
        s.exec_context.environment_files,
        vec![
            (PathBuf::from("/etc/default/web"), true),
            (PathBuf::from("/etc/web.env"), false)
        ]
    );
}

#[test]
fn outputs_table() {
    let cases: &[(&str, StandardOutput)] = &[
        ("inherit", StandardOutput::Inherit),
        ("null", StandardOutput::Null),
        ("journal", StandardOutput::Journal),
        ("kmsg", StandardOutput::Journal),
        ("journal+console", StandardOutput::Journal),
        ("tty", StandardOutput::Tty),
        ("socket", StandardOutput::Socket),
        (
            "file:/var/log/%p.log",
            StandardOutput::File(PathBuf::from("/var/log/web.log")),
        ),
        (
            "append:/var/log/x",
            StandardOutput::Append(PathBuf::from("/var/log/x")),
        ),
        (
            "truncate:/var/log/x",
            StandardOutput::Truncate(PathBuf::from("/var/log/x")),
        ),
        ("fd:out", StandardOutput::Fd("out".into())),
    ];
    for (v, want) in cases {
        let s = svc(&format!(
            "[Service]\nExecStart=/bin/a\nStandardOutput={v}\nStandardError={v}\n"
        ));
        assert_eq!(&s.exec_context.standard_output, want, "{v}");
        assert_eq!(&s.exec_context.standard_error, want, "{v}");
    }
}

#[test]
fn resources_table() {
    let mem = specs().physical_memory;
    // (settings, check)
    type Check = fn(&Resources, u64) -> bool;
    let cases: &[(&str, Check)] = &[
        ("MemoryMax=512M", |r, _| r.memory_max == Some(512 << 20)),
        ("MemoryMax=1.5G", |r, _| r.memory_max == Some(3 << 29)),
        ("MemoryMax=infinity", |r, _| r.memory_max == Some(u64::MAX)),
        ("MemoryMax=50%", |r, m| r.memory_max == Some(m / 2)),
        ("MemoryLimit=1G", |r, _| r.memory_max == Some(1 << 30)),
        ("MemoryLimit=1G\nMemoryMax=2G", |r, _| {
            r.memory_max == Some(2 << 30)
        }),
        ("MemoryMax=2G\nMemoryMax=", |r, _| r.memory_max.is_none()),
        ("CPUQuota=150%", |r, _| {
            r.cpu_quota_percent == Some(150)
                && r.cpu_quota_per_sec == Some(Duration::from_millis(1500))
        }),
        ("CPUQuota=12.5%", |r, _| {
            r.cpu_quota_percent == Some(12)
                && r.cpu_quota_per_sec == Some(Duration::from_millis(125))
        }),
        ("CPUWeight=200", |r, _| r.cpu_weight == Some(200)),
        ("CPUWeight=idle", |r, _| r.cpu_weight == Some(0)),
        ("CPUShares=512", |r, _| r.cpu_shares == Some(512)),
        ("TasksMax=100", |r, _| r.tasks_max == Some(100)),
        ("TasksMax=infinity", |r, _| r.tasks_max == Some(u64::MAX)),
        ("TasksMax=50%", |r, _| r.tasks_max == Some(4_194_303 / 2)),
        ("IOWeight=10", |r, _| r.io_weight == Some(10)),
        ("AllowedCPUs=0-1,3", |r, _| {
            r.allowed_cpus.as_deref() == Some("0-1,3")
        }),
        ("AllowedCPUs=3 0 1\nAllowedCPUs=5", |r, _| {
            r.allowed_cpus.as_deref() == Some("0-1,3,5")
        }),
        ("AllowedCPUs=1\nAllowedCPUs=", |r, _| {
            r.allowed_cpus.is_none()
        }),
    ];
    for (settings, check) in cases {
        let u = unit(
            "web.service",
            &format!("[Service]\nExecStart=/bin/a\n{settings}\n"),
        );
        let r = &u.service.as_ref().unwrap().resources;
        assert!(check(r, mem), "{settings}: {r:?}");
    }
}

#[test]
fn dependencies_templates_and_install() {
    let u = unit(
        "web@8080.service",
        "[Unit]\nDescription=Web %i\nRequires=db@.service\nWants=log.socket\nBindsTo=a.service\nPartOf=b.target\n\
         Conflicts=c.service\nBefore=d.service\nAfter=%p-setup@%i.service\nOnFailure=alert@%n.service\n\
         Requisite=e.mount\nStartLimitIntervalSec=1min\nStartLimitBurst=3\nDefaultDependencies=no\n\
         Documentation=man:web(8) https://example.com\n\
         [Service]\nExecStart=/usr/bin/web --port %i\n\
         [Install]\nWantedBy=multi-user.target\nRequiredBy=x.target\nAlso=web-log@%i.service\nAlias=www@%i.service\n\
         DefaultInstance=80\n",
    );
    assert!(!u.has_errors(), "{:?}", u.warnings);
    let names = |d: &[Dep]| {
        d.iter()
            .map(|d| d.unit.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(u.description.as_deref(), Some("Web 8080"));
    assert_eq!(names(&u.requires), vec!["db@8080.service"]);
    assert_eq!(names(&u.wants), vec!["log.socket"]);
    assert_eq!(names(&u.binds_to), vec!["a.service"]);
    assert_eq!(names(&u.part_of), vec!["b.target"]);
    assert_eq!(names(&u.conflicts), vec!["c.service"]);
    assert_eq!(names(&u.before), vec!["d.service"]);
    assert_eq!(names(&u.after), vec!["web-setup@8080.service"]);
    assert_eq!(names(&u.on_failure), vec!["alert@web@8080.service.service"]);
    assert_eq!(names(&u.requisite), vec!["e.mount"]);
    assert_eq!(u.after[0].line, 9);
    assert_eq!(u.start_limit_interval, Duration::from_secs(60));
    assert_eq!(u.start_limit_burst, 3);
    assert!(!u.default_dependencies);
    assert_eq!(u.documentation, vec!["man:web(8)", "https://example.com"]);
    let s = u.service.as_ref().unwrap();
    assert_eq!(s.exec_start[0].argv, vec!["/usr/bin/web", "--port", "8080"]);
    assert_eq!(names(&[]), Vec::<String>::new());
    let inst: Vec<&str> = u.install.wanted_by.iter().map(|n| n.as_str()).collect();
    assert_eq!(inst, vec!["multi-user.target"]);
    assert_eq!(u.install.required_by[0].as_str(), "x.target");
    assert_eq!(u.install.also[0].as_str(), "web-log@8080.service");
    assert_eq!(u.install.alias[0].as_str(), "www@8080.service");
    assert_eq!(u.install.default_instance.as_deref(), Some("80"));

    // A plain unit instantiates a template dependency with its prefix.
    let u = unit(
        "db.service",
        "[Unit]\nWants=backup@.service\n[Service]\nExecStart=/bin/db\n",
    );
    assert_eq!(names(&u.wants), vec!["backup@db.service"]);
}

#[test]
fn other_unit_types() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("multi-user.target", "[Unit]\nDescription=x\nAllowIsolate=yes\n", &[]),
        ("web.socket", "[Socket]\nListenStream=80\nAccept=no\n", &[]),
        (
            "web.socket",
            "[Unit]\nDescription=x\n[Socket]\nAccept=no\n",
            &["3|error|Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing."],
        ),
        ("web.socket", "[Socket]\nListenStream=80\nExecStartPre=bin/x\n", &["3|error|Neither a valid executable name nor an absolute path: bin/x"]),
        ("daily.timer", "[Timer]\nOnCalendar=daily\nPersistent=true\n", &[]),
        ("t.timer", "[Timer]\nOnBootSec=5x\n", &[
            "2|warning|Failed to parse timer value, ignoring: 5x",
            "1|error|Timer unit lacks value setting. Refusing.",
        ]),
        ("p.path", "[Path]\nPathExists=/etc/x\n", &[]),
        ("p.path", "[Path]\nPathExists=rel\n", &[
            "2|warning|PathExists= path is not absolute, ignoring: rel",
            "1|error|Path unit lacks path setting. Refusing.",
        ]),
        ("x.mount", "[Mount]\nWhat=/dev/sda\nWhere=/x\nUser=a:b\n", &["4|error|Invalid user/group name or numeric ID: a:b"]),
        ("x-y.mount", "[Mount]\nWhat=/dev/sda\nWhere=/x/y\n", &[]),
        ("x-y.mount", "[Mount]\nWhat=tmpfs\n", &[]),
        ("-.mount", "[Mount]\nWhere=/\n", &[]),
        ("x-y.mount", "[Mount]\nWhat=/dev/sda\nWhere=/x/z\n", &["1|error|Where= setting doesn't match unit name. Refusing."]),
        ("x-y.mount", "[Mount]\nWhere=/x/y\n", &["1|error|What= setting is missing. Refusing."]),
        ("x-y.automount", "[Automount]\nWhere=/x/q\n", &["1|error|Where= setting doesn't match unit name. Refusing."]),
        ("dev-sda2.swap", "[Swap]\nWhat=/dev/sda2\n", &[]),
        ("dev-sda2.swap", "[Swap]\nWhat=/dev/sda3\n", &["1|error|Value of What= and unit name do not match, not loading."]),
        ("s.slice", "[Slice]\nMemoryMax=1G\nCPUQuota=bogus\n", &["3|warning|Invalid CPU quota 'bogus', ignoring."]),
        ("web.socket", "[Service]\nExecStart=/bin/x\n[Socket]\nListenStream=1\n", &["1|warning|Unknown section 'Service'. Ignoring."]),
    ];
    for (name, text, want) in cases {
        let u = unit(name, text);
        assert_eq!(&diags(&u), want, "{name}:\n{text}");
        assert!(u.service.is_none());
    }
}

#[test]
fn severity_counts() {
    let u = unit(
        "web.service",
        "[Service]\nExecStart=/bin/a\nRestart=bogus\n",
    );
    assert!(!u.has_errors());
    assert_eq!(u.warnings[0].severity, Severity::Warning);
    let u = unit("web.service", "[Service]\nExecStart=/bin/a\nUser=:\n");
    assert!(u.has_errors());
    assert_eq!(u.errors().count(), 1);
}

#[test]
fn dollar_escapes_survive_to_the_shell() {
    // `$$` is a literal `$` after expansion; quoting is undone at load time, expansion at run time.
    let s = svc("[Service]\nType=oneshot\n\
                 ExecStart=/bin/sh -c 'test \"$$A\" = \"x y\" && test \"$$B\" = \"\\\\$$w 1\"'\n\
                 Environment=\"A=x y\" \"B=$w 1\"\nEnvironment=\"C=keep\"\n");
    assert_eq!(
        s.exec_context.environment,
        vec![
            ("A".into(), "x y".into()),
            ("B".into(), "$w 1".into()),
            ("C".into(), "keep".into())
        ]
    );
    let env = |k: &str| {
        s.exec_context
            .environment
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let argv = s.exec_start[0].expand(&env);
    assert_eq!(argv.len(), 3);
    assert_eq!(argv[2], "test \"$A\" = \"x y\" && test \"$B\" = \"\\$w 1\"");
}
