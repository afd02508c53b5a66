//! The kernel command line, read in one pass: `hako.arg=`, `hako.env=`, `hako.preopen=`,
//! `hako.stdin=`, `hako.umask=`, `hako.invoke=`, `hako.invoke-arg=`, `hako.net=`,
//! `hako.net6=` and `hako.tcplisten=` tokens (see [`hako_abi::boot`]), and the script-mode
//! restart keys `hako.script.resume=` / `hako.script.skip=` (see [`hako_abi::script`]).
//! Unknown tokens (QEMU's own, such as `virtio_mmio.device=`, which [`virtio_mmio`] reads)
//! are ignored here.

use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use hako_abi::boot::{
    percent_decode, ARG_KEY, ENV_KEY, INVOKE_ARG_KEY, INVOKE_KEY, NET6_KEY, NET_KEY, PREOPEN_KEY,
    STDIN_KEY, TCPLISTEN_KEY, UMASK_KEY,
};
use hako_abi::script::{RESUME_KEY, SKIP_KEY};

/// What the command line asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    /// Preopened directories (virtio-9p mount tag, guest path) in order.
    pub preopens: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes the runner sends on COM1 as stdin; absent: stdin is empty.
    pub stdin_len: u64,
    /// Script mode: report from this command id on (earlier ones run silently).
    pub resume: Option<u32>,
    /// Script mode: command ids never to execute.
    pub skip: Vec<u32>,
    /// The file-mode creation mask; `None`: [`hako_abi::boot::DEFAULT_UMASK`].
    pub umask: Option<u32>,
    /// Program mode: the export to invoke instead of `_start` (a WASI reactor).
    pub invoke: Option<Vec<u8>>,
    /// The invoked export's arguments, as raw bits, in order.
    pub invoke_args: Vec<u128>,
    /// `hako.net=`: the program has a network, configured so.
    pub net: Option<NetConfig>,
    /// `hako.net6=`: a static IPv6 address too (used only with `net`).
    pub net6: Option<Net6Config>,
    /// `hako.tcplisten=`: listening TCP sockets to preopen, in order.
    pub tcplisten: Vec<SocketAddr>,
}

/// How the IPv4 interface is configured (`hako.net=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetConfig {
    /// Ask a DHCP server (`dhcp`).
    Dhcp,
    /// `<address>/<prefix>,<gateway>,<dns server>`.
    Static {
        addr: Ipv4Addr,
        prefix: u8,
        gateway: Ipv4Addr,
        dns: Ipv4Addr,
    },
}

/// A static IPv6 configuration (`hako.net6=<address>/<prefix>,<gateway>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net6Config {
    pub addr: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Ipv6Addr,
}

/// `<address>/<prefix>` with a prefix of at most `max`.
fn cidr<A: core::str::FromStr>(v: &str, max: u8) -> Option<(A, u8)> {
    let (addr, prefix) = v.split_once('/')?;
    let prefix = decimal(prefix.as_bytes()).filter(|p| *p <= u64::from(max))?;
    Some((addr.parse().ok()?, prefix as u8))
}

/// The value of `hako.net=`.
pub fn net_config(v: &[u8]) -> Option<NetConfig> {
    let v = core::str::from_utf8(v).ok()?;
    if v == "dhcp" {
        return Some(NetConfig::Dhcp);
    }
    let mut parts = v.split(',');
    let (addr, prefix) = cidr(parts.next()?, 32)?;
    let gateway = parts.next()?.parse().ok()?;
    let dns = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(NetConfig::Static {
        addr,
        prefix,
        gateway,
        dns,
    })
}

/// The value of `hako.net6=`.
pub fn net6_config(v: &[u8]) -> Option<Net6Config> {
    let v = core::str::from_utf8(v).ok()?;
    let (cidr_part, gateway) = v.split_once(',')?;
    let (addr, prefix) = cidr(cidr_part, 128)?;
    Some(Net6Config {
        addr,
        prefix,
        gateway: gateway.parse().ok()?,
    })
}

/// A non-empty decimal number of ASCII digits that fits `u64`.
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

fn decimal_u32(v: &[u8]) -> Option<u32> {
    decimal(v).and_then(|n| u32::try_from(n).ok())
}

/// A non-empty number of ASCII digits in `radix` (8 or 16) that fits `u128`.
fn digits(v: &[u8], radix: u32) -> Option<u128> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u128, |n, &b| {
        let d = (b as char).to_digit(radix)?;
        n.checked_mul(u128::from(radix))?.checked_add(u128::from(d))
    })
}

fn decoded(v: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(v.len());
    percent_decode(v, |b| bytes.push(b)).ok()?;
    Some(bytes)
}

/// Parse the command line. A malformed value is an error naming its token.
pub fn parse(line: &[u8]) -> Result<CommandLine, &[u8]> {
    let mut out = CommandLine::default();
    for tok in line.split(|&b| b == b' ' || b == b'\t' || b == b'\n' || b == 0) {
        let ok = if let Some(v) = tok.strip_prefix(ARG_KEY.as_bytes()) {
            decoded(v).map(|a| out.args.push(a))
        } else if let Some(v) = tok.strip_prefix(ENV_KEY.as_bytes()) {
            decoded(v).map(|e| out.env.push(e))
        } else if let Some(v) = tok.strip_prefix(PREOPEN_KEY.as_bytes()) {
            v.iter().position(|&b| b == b':').and_then(|colon| {
                let guest = decoded(&v[colon + 1..])?;
                out.preopens.push((v[..colon].to_vec(), guest));
                Some(())
            })
        } else if let Some(v) = tok.strip_prefix(STDIN_KEY.as_bytes()) {
            decimal(v).map(|n| out.stdin_len = n)
        } else if let Some(v) = tok.strip_prefix(RESUME_KEY.as_bytes()) {
            decimal_u32(v).map(|n| out.resume = Some(n))
        } else if let Some(v) = tok.strip_prefix(SKIP_KEY.as_bytes()) {
            decimal_u32(v).map(|n| out.skip.push(n))
        } else if let Some(v) = tok.strip_prefix(UMASK_KEY.as_bytes()) {
            digits(v, 8)
                .filter(|m| *m <= 0o777)
                .map(|m| out.umask = Some(m as u32))
        } else if let Some(v) = tok.strip_prefix(INVOKE_KEY.as_bytes()) {
            decoded(v).map(|name| out.invoke = Some(name))
        } else if let Some(v) = tok.strip_prefix(INVOKE_ARG_KEY.as_bytes()) {
            digits(v, 16).map(|bits| out.invoke_args.push(bits))
        } else if let Some(v) = tok.strip_prefix(NET_KEY.as_bytes()) {
            net_config(v).map(|c| out.net = Some(c))
        } else if let Some(v) = tok.strip_prefix(NET6_KEY.as_bytes()) {
            net6_config(v).map(|c| out.net6 = Some(c))
        } else if let Some(v) = tok.strip_prefix(TCPLISTEN_KEY.as_bytes()) {
            core::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(|a| out.tcplisten.push(a))
        } else {
            Some(())
        };
        ok.ok_or(tok)?;
    }
    Ok(out)
}

/// QEMU's `virtio_mmio.device=<size>@<address>:<irq>` tokens: each window's base address
/// and, when given, its interrupt (a GSI), in order.
pub fn virtio_mmio(line: &[u8]) -> Vec<(u64, Option<u32>)> {
    let mut out = Vec::new();
    for tok in line.split(|&b| b == b' ') {
        let Some(v) = tok.strip_prefix(b"virtio_mmio.device=") else {
            continue;
        };
        let Some(at) = v.iter().position(|&b| b == b'@') else {
            continue;
        };
        let rest = &v[at + 1..];
        let end = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
        let irq = rest
            .get(end + 1..)
            .and_then(number)
            .and_then(|n| u32::try_from(n).ok());
        if let Some(a) = number(&rest[..end]) {
            out.push((a, irq));
        }
    }
    out
}

/// A decimal or `0x` hexadecimal number, with an optional `K`/`M`/`G` suffix (QEMU's
/// `virtio_mmio.device=` sizes and addresses).
pub fn number(v: &[u8]) -> Option<u64> {
    let (v, mul) = match v.last() {
        Some(b'K' | b'k') => (&v[..v.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&v[..v.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let s = core::str::from_utf8(v).ok()?;
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_args_env_and_ignores_others() {
        let c = parse(b"console=ttyS0 hako.arg=prog hako.env=A%3D1 hako.arg=a%20b virtio_mmio.device=1K@0x1:2 hako.arg=").unwrap();
        assert_eq!(
            c.args,
            vec![b"prog".to_vec(), b"a b".to_vec(), b"".to_vec()]
        );
        assert_eq!(c.env, vec![b"A=1".to_vec()]);
        assert_eq!(parse(b"hako.arg=%4"), Err(&b"hako.arg=%4"[..]));
        assert_eq!(parse(b"hako.env=%zz"), Err(&b"hako.env=%zz"[..]));
        assert_eq!(parse(b"").unwrap(), CommandLine::default());
    }

    #[test]
    fn preopens_and_stdin() {
        let c = parse(b"hako.arg=x hako.preopen=hako0:/ hako.preopen=hako1:a%20b hako.stdin=12 virtio_mmio.device=512@0xfeb00e00:12").unwrap();
        assert_eq!(
            c.preopens,
            vec![
                (b"hako0".to_vec(), b"/".to_vec()),
                (b"hako1".to_vec(), b"a b".to_vec())
            ]
        );
        assert_eq!(c.stdin_len, 12);
        assert_eq!(parse(b"hako.stdin=0").unwrap().stdin_len, 0);
        assert!(parse(b"hako.preopen=nocolon").is_err());
        assert!(parse(b"hako.preopen=t:%").is_err());
        assert!(parse(b"hako.stdin=0x10").is_err());
        assert!(parse(b"hako.stdin=").is_err());
        assert!(parse(b"hako.stdin=18446744073709551616").is_err());
        assert_eq!(
            parse(b"hako.stdin=18446744073709551615").unwrap().stdin_len,
            u64::MAX
        );
    }

    #[test]
    fn script_restart_keys() {
        let c = parse(b"hako.script.skip=7 hako.script.resume=12 hako.script.skip=3").unwrap();
        assert_eq!(c.resume, Some(12));
        assert_eq!(c.skip, vec![7, 3]);
        assert_eq!(
            parse(b"hako.script.resume=").unwrap_err(),
            b"hako.script.resume="
        );
        assert_eq!(
            parse(b"hako.script.skip=-1").unwrap_err(),
            b"hako.script.skip=-1"
        );
        assert_eq!(
            parse(b"hako.script.resume=99999999999").unwrap_err(),
            b"hako.script.resume=99999999999"
        );
        assert_eq!(
            parse(b"hako.script.resume=4294967295").unwrap().resume,
            Some(u32::MAX)
        );
        assert_eq!(parse(b"hako.arg=x").unwrap().resume, None);
    }

    #[test]
    fn umask_and_invoke() {
        let c =
            parse(b"hako.umask=027 hako.invoke=add%20x hako.invoke-arg=ffffffff hako.invoke-arg=0")
                .unwrap();
        assert_eq!(c.umask, Some(0o027));
        assert_eq!(c.invoke.as_deref(), Some(&b"add x"[..]));
        assert_eq!(c.invoke_args, vec![0xffff_ffff, 0]);
        let c = parse(b"hako.invoke-arg=ffffffffffffffffffffffffffffffff").unwrap();
        assert_eq!(c.invoke_args, vec![u128::MAX]);
        assert_eq!(parse(b"hako.arg=x").unwrap().umask, None);
        for bad in [
            &b"hako.umask=8"[..],
            b"hako.umask=1000",
            b"hako.umask=",
            b"hako.invoke-arg=g",
            b"hako.invoke-arg=1ffffffffffffffffffffffffffffffff",
            b"hako.invoke=%",
        ] {
            assert_eq!(parse(bad), Err(bad));
        }
    }

    #[test]
    fn network_keys() {
        use hako_abi::boot::{USER_NET, USER_NET6};
        let line = std::format!(
            "hako.net={USER_NET} hako.net6={USER_NET6} hako.tcplisten=0.0.0.0:8080 hako.tcplisten=[::]:9"
        );
        let c = parse(line.as_bytes()).unwrap();
        assert_eq!(
            c.net,
            Some(NetConfig::Static {
                addr: Ipv4Addr::new(10, 0, 2, 15),
                prefix: 24,
                gateway: Ipv4Addr::new(10, 0, 2, 2),
                dns: Ipv4Addr::new(10, 0, 2, 3),
            })
        );
        assert_eq!(
            c.net6,
            Some(Net6Config {
                addr: "fec0::15".parse().unwrap(),
                prefix: 64,
                gateway: "fec0::2".parse().unwrap(),
            })
        );
        assert_eq!(
            c.tcplisten,
            vec![
                "0.0.0.0:8080".parse::<SocketAddr>().unwrap(),
                "[::]:9".parse().unwrap()
            ]
        );
        assert_eq!(parse(b"hako.net=dhcp").unwrap().net, Some(NetConfig::Dhcp));
        assert_eq!(parse(b"hako.arg=x").unwrap().net, None);
        for bad in [
            &b"hako.net="[..],
            b"hako.net=DHCP",
            b"hako.net=10.0.2.15,10.0.2.2,10.0.2.3",
            b"hako.net=10.0.2.15/33,10.0.2.2,10.0.2.3",
            b"hako.net=10.0.2.15/24,10.0.2.2",
            b"hako.net=10.0.2.15/24,10.0.2.2,10.0.2.3,1.1.1.1",
            b"hako.net=10.0.2.315/24,10.0.2.2,10.0.2.3",
            b"hako.net6=fec0::15/129,fec0::2",
            b"hako.net6=fec0::15/64",
            b"hako.net6=10.0.2.15/24,fec0::2",
            b"hako.tcplisten=8080",
            b"hako.tcplisten=0.0.0.0:65536",
            b"hako.tcplisten=::1:80",
        ] {
            assert_eq!(
                parse(bad),
                Err(bad),
                "{}",
                std::str::from_utf8(bad).unwrap()
            );
        }
    }

    #[test]
    fn virtio_mmio_windows_and_interrupts() {
        assert_eq!(
            virtio_mmio(b"hako.arg=x virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=4K@0xfeb00c00 virtio_mmio.device=512@0xfeb00a00:x virtio_mmio.device=bad"),
            vec![(0xfeb0_0e00, Some(12)), (0xfeb0_0c00, None), (0xfeb0_0a00, None)]
        );
        assert!(virtio_mmio(b"hako.net=dhcp").is_empty());
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"0xfeb00e00"), Some(0xfeb00e00));
        assert_eq!(number(b"4K"), Some(4096));
        assert_eq!(number(b"512"), Some(512));
        assert_eq!(number(b"x"), None);
    }
}
