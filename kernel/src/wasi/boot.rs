//! The WASI part of the kernel command line: `hako.preopen=<tag>:<guest path>` and
//! `hako.stdin=<length>` (see [`hako_abi::boot`]).

use alloc::vec::Vec;
use hako_abi::boot::{percent_decode, PREOPEN_KEY, STDIN_KEY};

/// Preopens (mount tag, guest name) in order, and the length of stdin.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WasiBoot {
    pub preopens: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes the runner sends on COM1 as stdin; absent: stdin is empty.
    pub stdin_len: u64,
}

/// A decimal or `0x` hexadecimal number, with an optional `K`/`M`/`G` suffix.
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

/// Parse the WASI tokens; a malformed one is an error naming it.
pub fn parse(line: &[u8]) -> Result<WasiBoot, &[u8]> {
    let mut out = WasiBoot::default();
    for tok in line.split(|&b| b == b' ' || b == b'\t' || b == b'\n' || b == 0) {
        if let Some(v) = tok.strip_prefix(PREOPEN_KEY.as_bytes()) {
            let colon = v.iter().position(|&b| b == b':').ok_or(tok)?;
            let mut guest = Vec::new();
            percent_decode(&v[colon + 1..], |b| guest.push(b)).map_err(|_| tok)?;
            out.preopens.push((v[..colon].to_vec(), guest));
        } else if let Some(v) = tok.strip_prefix(STDIN_KEY.as_bytes()) {
            if !v.iter().all(u8::is_ascii_digit) {
                return Err(tok);
            }
            out.stdin_len = number(v).ok_or(tok)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn preopens_and_stdin() {
        let b = parse(b"hako.arg=x hako.preopen=hako0:/ hako.preopen=hako1:a%20b hako.stdin=12 virtio_mmio.device=512@0xfeb00e00:12").unwrap();
        assert_eq!(
            b.preopens,
            vec![
                (b"hako0".to_vec(), b"/".to_vec()),
                (b"hako1".to_vec(), b"a b".to_vec())
            ]
        );
        assert_eq!(b.stdin_len, 12);
        assert!(parse(b"hako.preopen=nocolon").is_err());
        assert!(parse(b"hako.stdin=0x10").is_err());
        assert_eq!(number(b"0xfeb00e00"), Some(0xfeb00e00));
        assert_eq!(number(b"4K"), Some(4096));
        assert_eq!(parse(b"").unwrap(), WasiBoot::default());
    }
}
