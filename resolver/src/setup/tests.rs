//! `parapet setup` against fake environments: a root directory with its own
//! route table and resolved files, given interfaces, and a probe port that a
//! test holds (or not) with real sockets on loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use parapet_test_support::ports::free_port;

use super::lan::{self, InterfaceAddr};
use super::{Environment, SetupArgs, port53, run_with, write};

/// A route table with the default route via 192.168.1.1 on eth0.
const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";

struct Fake {
    dir: tempfile::TempDir,
    env: Environment,
}

impl Fake {
    /// A root with `ROUTES`, interfaces `lo` and eth0 `eth0`, probing `probe`.
    fn new(eth0: &str, probe: SocketAddr) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/net")).unwrap();
        std::fs::write(dir.path().join("proc/net/route"), ROUTES).unwrap();
        let env = Environment {
            root: dir.path().to_path_buf(),
            proc_dir: PathBuf::from("/proc"),
            probe,
            interfaces: vec![iface("lo", "127.0.0.1/8"), iface("eth0", eth0)],
            systemd: false,
        };
        Fake { dir, env }
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("etc/parapet/parapet.toml")
    }

    fn args(&self, extra: &[&str]) -> SetupArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: SetupArgs,
        }
        let output = self.output();
        let mut argv = vec!["setup", "--output", output.to_str().unwrap()];
        argv.extend_from_slice(extra);
        Wrap::parse_from(argv).args
    }

    /// Run setup; `(exit code, what it printed)`.
    fn run(&self, extra: &[&str]) -> (u8, String) {
        let mut out = Vec::new();
        let code = run_with(&self.args(extra), &self.env, &mut out);
        (code, String::from_utf8(out).unwrap())
    }
}

fn iface(name: &str, net: &str) -> InterfaceAddr {
    InterfaceAddr {
        name: name.into(),
        net: net.parse().unwrap(),
    }
}

/// The written config loads as parapet would load it, with its artifact
/// path (the update timer's) pointed at a compiled list in `dir`.
fn load_written(text: &str, dir: &Path) -> crate::Config {
    use parapet_blocklist::{CompileOptions, Compiler, SourceSpec};
    let artifact = dir.join("parapet.pbl");
    let mut compiler = Compiler::new(CompileOptions::default());
    compiler
        .add_reader(&SourceSpec::new("test"), "phishing.example\n".as_bytes())
        .unwrap();
    compiler.write_file(&artifact).unwrap();
    let text = text.replace("/var/lib/parapet/parapet.pbl", artifact.to_str().unwrap());
    crate::config::from_toml_str(&text, dir).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn a_free_port_gets_a_config_for_the_lan_and_the_router_step() {
    let fake = Fake::new("192.168.1.23/24", free_port());
    let (code, said) = fake.run(&[]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("192.168.1.23 on eth0 (home network 192.168.1.0/24)"),
        "{said}"
    );
    assert!(said.contains("is free"), "{said}");
    assert!(said.contains("sudo systemctl restart parapet"), "{said}");
    assert!(said.contains("http://192.168.1.1"), "{said}");
    assert!(said.contains("to 192.168.1.23"), "{said}");
    assert!(said.contains("http://check.parapet.test"), "{said}");
    let text = std::fs::read_to_string(fake.output()).unwrap();
    assert!(
        !text.contains("192.168.1.2\""),
        "template address left:\n{text}"
    );
    // The shipped header speaks of the example address in words, so that
    // filling in the box's address leaves it making sense.
    let header = text.lines().skip(1).take_while(|l| l.starts_with('#'));
    for line in header {
        assert!(
            !line.contains("192.168.1.23") && !line.contains("192.168.1.0/24"),
            "header rewritten: {line}"
        );
    }
    let config = load_written(&text, fake.dir.path());
    assert_eq!(config.block.sinkhole_ipv4, Ipv4Addr::new(192, 168, 1, 23));
    assert_eq!(
        config.warning_page.listen,
        Some(vec!["192.168.1.23:80".parse::<SocketAddr>().unwrap()])
    );
    assert!(crate::config::contains_ip(
        &config.access.allow,
        "192.168.1.200".parse().unwrap()
    ));
    assert!(!crate::config::contains_ip(
        &config.access.allow,
        "192.168.2.1".parse().unwrap()
    ));
    assert_eq!(config.feeds.len(), 4, "the default feeds");
}

#[test]
fn resolved_stub_on_the_port_is_named_and_freed_on_request() {
    let udp = UdpSocket::bind("127.0.0.53:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let _tcp = TcpListener::bind(("127.0.0.53", port)).unwrap();
    let fake = Fake::new("10.0.0.5/8", SocketAddr::from(([0, 0, 0, 0], port)));
    let etc = fake.dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::os::unix::fs::symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        etc.join("resolv.conf"),
    )
    .unwrap();

    let (code, said) = fake.run(&[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("systemd-resolved's stub"), "{said}");
    assert!(said.contains("--free-port-53"), "{said}");
    assert!(fake.output().exists(), "the config is written anyway");
    assert!(!fake.dir.path().join(write::RESOLVED_DROP_IN).exists());

    let (code, said) = fake.run(&["--free-port-53"]);
    assert_eq!(code, 1, "{said}");
    let drop_in = std::fs::read_to_string(fake.dir.path().join(write::RESOLVED_DROP_IN)).unwrap();
    assert!(
        drop_in.contains("[Resolve]\nDNSStubListener=no\n"),
        "{drop_in}"
    );
    assert_eq!(
        std::fs::read_link(etc.join("resolv.conf")).unwrap(),
        Path::new("/run/systemd/resolve/resolv.conf")
    );
    assert!(
        said.contains("sudo systemctl restart systemd-resolved"),
        "{said}"
    );
}

#[test]
fn another_program_on_the_port_is_named_by_process() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let fake = Fake::new("172.16.4.4/12", SocketAddr::from(([0, 0, 0, 0], port)));
    let (code, said) = fake.run(&[]);
    assert_eq!(code, 1, "{said}");
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert!(
        said.contains(&format!("held by {} on 127.0.0.1:{port}", me.trim())),
        "{said}"
    );
    assert!(said.contains("disable --now"), "{said}");
}

#[test]
fn no_private_address_writes_nothing_and_says_why() {
    let fake = Fake::new("203.0.113.5/24", free_port());
    let (code, said) = fake.run(&[]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("no private IPv4 address"), "{said}");
    assert!(said.contains("eth0 203.0.113.5/24"), "{said}");
    assert!(!fake.output().exists());
}

#[test]
fn a_changed_config_is_replaced_only_with_force_and_kept() {
    let fake = Fake::new("192.168.1.23/24", free_port());
    std::fs::create_dir_all(fake.output().parent().unwrap()).unwrap();
    // The shipped file untouched: replaced without --force.
    std::fs::write(fake.output(), write::HOME_TEMPLATE).unwrap();
    assert_eq!(fake.run(&[]).0, 0);
    // Edited by the person: refused, then replaced and kept with --force.
    std::fs::write(fake.output(), "# mine\n").unwrap();
    let (code, said) = fake.run(&[]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--force"), "{said}");
    assert_eq!(std::fs::read_to_string(fake.output()).unwrap(), "# mine\n");
    assert_eq!(fake.run(&["--force"]).0, 0);
    let kept = write::backup_path(&fake.output());
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "# mine\n");
    assert!(
        std::fs::read_to_string(fake.output())
            .unwrap()
            .contains("192.168.1.23")
    );
}

#[test]
fn a_given_address_wins_and_dry_run_writes_nothing() {
    let fake = Fake::new("192.168.1.23/24", free_port());
    let (code, said) = fake.run(&["--address", "10.1.2.3/16", "--dry-run"]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("sinkhole_ipv4 = \"10.1.2.3\""), "{said}");
    assert!(said.contains("\"10.1.0.0/16\""), "{said}");
    assert!(!fake.output().exists());
    assert!(
        !said.contains("sudo systemctl restart parapet"),
        "nothing new to restart for: {said}"
    );
}

#[test]
fn the_default_route_picks_the_interface() {
    let routes = lan::default_routes(ROUTES);
    assert_eq!(
        routes,
        [("eth0".to_string(), Ipv4Addr::new(192, 168, 1, 1), 100)]
    );
    let dir = tempfile::tempdir().unwrap();
    let route = dir.path().join("route");
    std::fs::write(&route, ROUTES).unwrap();
    let ifaces = [
        iface("wlan0", "10.9.9.9/24"),
        iface("eth0", "192.168.1.7/24"),
    ];
    let found = lan::find(&route, &ifaces).unwrap();
    assert_eq!(
        (found.interface.as_str(), found.address),
        ("eth0", Ipv4Addr::new(192, 168, 1, 7))
    );
    // No route table: the first private address.
    let found = lan::find(&dir.path().join("missing"), &ifaces).unwrap();
    assert_eq!(found.interface, "wlan0");
    assert_eq!(found.router, None);
}

#[test]
fn ipv6_holders_are_read_from_proc() {
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let holders = port53::holders(addr.port(), Path::new("/proc"));
    assert!(holders.iter().any(|h| h.addr == addr), "{holders:?}");
}
