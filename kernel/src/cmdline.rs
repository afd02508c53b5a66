//! The kernel command line: `hako.arg=` and `hako.env=` tokens (see [`hako_abi::boot`]),
//! and the script-mode restart keys `hako.script.resume=` / `hako.script.skip=` (see
//! [`hako_abi::script`]).

use alloc::vec::Vec;
use hako_abi::boot::{percent_decode, ARG_KEY, ENV_KEY};
use hako_abi::script::{RESUME_KEY, SKIP_KEY};

/// Program arguments and environment decoded from the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    /// Script mode: report from this command id on (earlier ones run silently).
    pub resume: Option<u32>,
    /// Script mode: command ids never to execute.
    pub skip: Vec<u32>,
}

fn decimal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v).ok()?.parse().ok()
}

/// Parse the command line. Unknown tokens are ignored; a malformed value is an error naming
/// the token.
pub fn parse(line: &[u8]) -> Result<CommandLine, &[u8]> {
    let mut out = CommandLine::default();
    for tok in line.split(|&b| b == b' ' || b == b'\t' || b == b'\n' || b == 0) {
        if let Some(v) = tok.strip_prefix(RESUME_KEY.as_bytes()) {
            out.resume = Some(decimal(v).ok_or(tok)?);
            continue;
        }
        if let Some(v) = tok.strip_prefix(SKIP_KEY.as_bytes()) {
            out.skip.push(decimal(v).ok_or(tok)?);
            continue;
        }
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
        assert_eq!(parse(b"hako.arg=x").unwrap().resume, None);
    }
}
