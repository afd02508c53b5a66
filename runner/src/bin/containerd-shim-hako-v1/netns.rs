//! The container's network: its network namespace (as CNI or `ctr run --with-ns` made it)
//! reaches the guest through a tap device in that namespace, as Kata Containers connects
//! its VMs: traffic arriving on the namespace's interface is redirected to the tap, and the
//! tap's to the interface (`tc` `mirred`), and the guest takes the interface's address,
//! MAC and gateway, so the pod's address is the guest's.
//!
//! The commands (`ip`, `tc`, run in the namespace with `nsenter`) and the parsing of their
//! JSON are here, pure; `main.rs` runs them.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::PathBuf;

/// The tap device the shim makes in the container's namespace.
pub const TAP: &str = "hako0";

/// What network the spec gives the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// No network namespace in the spec: the host's (`ctr run --net-host`); the guest gets
    /// QEMU's user network, which reaches out through the host's.
    Host,
    /// A new, empty namespace (`ctr run` without `--with-ns`): nothing to connect, no device.
    Empty,
    /// An existing namespace (CNI's, `ctr run --with-ns network:PATH`).
    Namespace(PathBuf),
}

pub fn network(spec: &Spec) -> Network {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    match namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
    {
        None => Network::Host,
        Some(n) => match n.path() {
            Some(p) if !p.as_os_str().is_empty() => Network::Namespace(p.clone()),
            _ => Network::Empty,
        },
    }
}

/// The namespace's interface the guest takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    /// `IPV4/PREFIX`.
    pub cidr: String,
}

/// The first interface other than loopback (and our tap) with a global IPv4 address, from
/// `ip -j addr show`.
pub fn interface(addr_json: &str) -> Option<Interface> {
    let links: serde_json::Value = serde_json::from_str(addr_json).ok()?;
    links.as_array()?.iter().find_map(|link| {
        let name = link["ifname"].as_str()?;
        if name == "lo" || name == TAP || link["link_type"] == "loopback" {
            return None;
        }
        let mac = link["address"].as_str()?;
        let inet = link["addr_info"].as_array()?.iter().find(|a| {
            a["family"] == "inet" && a["scope"].as_str().unwrap_or("global") == "global"
        })?;
        Some(Interface {
            name: name.to_string(),
            mac: mac.to_string(),
            cidr: format!(
                "{}/{}",
                inet["local"].as_str()?,
                inet["prefixlen"].as_u64()?
            ),
        })
    })
}

/// The default route's gateway, from `ip -j route show default`.
pub fn gateway(route_json: &str) -> Option<String> {
    let routes: serde_json::Value = serde_json::from_str(route_json).ok()?;
    routes
        .as_array()?
        .iter()
        .find_map(|r| r["gateway"].as_str().map(str::to_string))
}

/// The first IPv4 name server of a `resolv.conf`.
pub fn name_server(resolv_conf: &str) -> Option<String> {
    resolv_conf.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next())
            .flatten()
            .filter(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
            .map(str::to_string)
    })
}

/// The container's `/etc/resolv.conf` on the host, when the spec mounts one (CRI does).
pub fn resolv_conf(spec: &Spec) -> Option<PathBuf> {
    spec.mounts().as_ref()?.iter().find_map(|m| {
        (m.destination() == &PathBuf::from("/etc/resolv.conf"))
            .then(|| m.source().clone())
            .flatten()
    })
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Make the tap and redirect the interface's traffic to it and back.
pub fn setup_commands(iface: &Interface) -> Vec<Vec<String>> {
    let i = &iface.name;
    vec![
        words(&format!("ip tuntap add dev {TAP} mode tap")),
        words(&format!("ip link set dev {TAP} up")),
        words(&format!("tc qdisc add dev {i} ingress")),
        words(&format!(
            "tc filter add dev {i} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev {TAP}"
        )),
        words(&format!("tc qdisc add dev {TAP} ingress")),
        words(&format!(
            "tc filter add dev {TAP} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev {i}"
        )),
    ]
}

/// Undo [`setup_commands`] (the tap's own filter goes with it).
pub fn teardown_commands(iface: &Interface) -> Vec<Vec<String>> {
    vec![
        words(&format!("tc qdisc del dev {} ingress", iface.name)),
        words(&format!("ip link del dev {TAP}")),
    ]
}

/// `hako run`'s network arguments for the guest.
pub fn hako_args(iface: &Interface, gateway: &str, dns: &str) -> Vec<String> {
    vec![
        "--tap".into(),
        TAP.into(),
        "--mac".into(),
        iface.mac.clone(),
        "--ip".into(),
        format!("{},{gateway},{dns}", iface.cidr),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, SpecBuilder};

    #[test]
    fn reads_ip_json() {
        let addr = r#"[{"ifindex":1,"ifname":"lo","link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},
            {"ifindex":2,"ifname":"eth0","link_type":"ether","address":"aa:bb:cc:dd:ee:ff","addr_info":[{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"},{"family":"inet","local":"10.88.0.7","prefixlen":16,"scope":"global"}]}]"#;
        assert_eq!(
            interface(addr),
            Some(Interface {
                name: "eth0".into(),
                mac: "aa:bb:cc:dd:ee:ff".into(),
                cidr: "10.88.0.7/16".into()
            })
        );
        assert_eq!(interface("[]"), None);
        assert_eq!(
            gateway(r#"[{"dst":"default","gateway":"10.88.0.1","dev":"eth0","flags":[]}]"#),
            Some("10.88.0.1".into())
        );
        assert_eq!(gateway("[]"), None);
        assert_eq!(
            name_server("# x\nsearch a\nnameserver fe80::1\nnameserver 10.96.0.10\n"),
            Some("10.96.0.10".into())
        );
    }

    #[test]
    fn namespaces() {
        let spec = |ns: Option<Option<&str>>| {
            let mut linux = LinuxBuilder::default();
            if let Some(path) = ns {
                let mut n = LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network);
                if let Some(p) = path {
                    n = n.path(p);
                }
                linux = linux.namespaces(vec![n.build().unwrap()]);
            } else {
                linux = linux.namespaces(vec![]);
            }
            SpecBuilder::default()
                .linux(linux.build().unwrap())
                .build()
                .unwrap()
        };
        assert_eq!(network(&spec(None)), Network::Host);
        assert_eq!(network(&spec(Some(None))), Network::Empty);
        assert_eq!(
            network(&spec(Some(Some("/var/run/netns/x")))),
            Network::Namespace("/var/run/netns/x".into())
        );
    }

    #[test]
    fn commands() {
        let i = Interface {
            name: "eth0".into(),
            mac: "aa:bb:cc:dd:ee:ff".into(),
            cidr: "10.0.0.2/24".into(),
        };
        let setup = setup_commands(&i);
        assert_eq!(
            setup[0],
            ["ip", "tuntap", "add", "dev", "hako0", "mode", "tap"]
        );
        assert!(setup[3].ends_with(&["redirect".into(), "dev".into(), "hako0".into()]));
        assert!(setup[5].ends_with(&["redirect".into(), "dev".into(), "eth0".into()]));
        assert_eq!(
            hako_args(&i, "10.0.0.1", "10.0.0.1"),
            [
                "--tap",
                "hako0",
                "--mac",
                "aa:bb:cc:dd:ee:ff",
                "--ip",
                "10.0.0.2/24,10.0.0.1,10.0.0.1"
            ]
        );
    }
}
