//! The kernel command line: `hako.arg=` and `hako.env=` tokens (see [`hako_abi::boot`]).

use alloc::vec::Vec;
use hako_abi::boot::{percent_decode, ARG_KEY, ENV_KEY};

/// Program arguments and environment decoded from the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
}

/// Parse the command line. Unknown tokens are ignored; a malformed value is an error naming
/// the token.
pub fn parse(line: &[u8]) -> Result<CommandLine, &[u8]> {
    let mut out = CommandLine::default();
    for tok in line.split(|&b| b == b' ' || b == b'\t' || b == b'\n' || b == 0) {
        let (dst, val) = if let Some(v) = tok.strip_prefix(ARG_KEY.as_bytes()) {
            (&mut out.args, v)
        } else if let Some(v) = tok.strip_prefix(ENV_KEY.as_bytes()) {
            (&mut out.env, v)
        } else {
            continue;
        };
        let mut bytes = Vec::with_capacity(val.len());
        percent_decode(val, |b| bytes.push(b)).map_err(|_| tok)?;
        dst.push(bytes);
    }
    Ok(out)
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
        assert_eq!(parse(b"").unwrap(), CommandLine::default());
    }
}
