//! File attributes as WASI reports and sets them: the 64-byte `filestat` record, WASI file
//! types from 9P modes and directory-entry types, the `dev` of each preopen, and the
//! `Tsetattr` request for a `fst_flags` argument.

use super::vfs::{self, setattr, SetAttr, Stat};
use super::WasiResult;
use crate::guest::{Errno, GuestMemory};
use hako_abi::wasi::{errno, filetype, fstflags};

/// The `dev` reported for files of preopen `i` (9P does not carry the host's).
pub(super) const DEV_BASE: u64 = 0x9000;

pub(super) fn filetype_of(st: &Stat) -> u8 {
    match st.mode & vfs::S_IFMT {
        vfs::S_IFDIR => filetype::DIRECTORY,
        vfs::S_IFREG => filetype::REGULAR_FILE,
        vfs::S_IFLNK => filetype::SYMBOLIC_LINK,
        vfs::S_IFCHR => filetype::CHARACTER_DEVICE,
        vfs::S_IFBLK => filetype::BLOCK_DEVICE,
        vfs::S_IFSOCK => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

pub(super) fn filetype_of_dt(dt: u8) -> u8 {
    match dt {
        4 => filetype::DIRECTORY,
        8 => filetype::REGULAR_FILE,
        10 => filetype::SYMBOLIC_LINK,
        2 => filetype::CHARACTER_DEVICE,
        6 => filetype::BLOCK_DEVICE,
        12 => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

fn time_spec(set: bool, now: bool) -> Result<(), Errno> {
    if set && now {
        Err(errno::INVAL)
    } else {
        Ok(())
    }
}

/// The `Tsetattr` for WASI `fst_flags`.
pub(super) fn times_attr(atim: u64, mtim: u64, fst: u16) -> Result<SetAttr, Errno> {
    if fst & !fstflags::ALL != 0 {
        return Err(errno::INVAL);
    }
    time_spec(fst & fstflags::ATIM != 0, fst & fstflags::ATIM_NOW != 0)?;
    time_spec(fst & fstflags::MTIM != 0, fst & fstflags::MTIM_NOW != 0)?;
    let mut a = SetAttr::default();
    if fst & fstflags::ATIM != 0 {
        a.valid |= setattr::ATIME | setattr::ATIME_SET;
        a.atime = atim;
    } else if fst & fstflags::ATIM_NOW != 0 {
        a.valid |= setattr::ATIME;
    }
    if fst & fstflags::MTIM != 0 {
        a.valid |= setattr::MTIME | setattr::MTIME_SET;
        a.mtime = mtim;
    } else if fst & fstflags::MTIM_NOW != 0 {
        a.valid |= setattr::MTIME;
    }
    Ok(a)
}

pub(super) fn write_filestat(
    mem: &mut GuestMemory,
    buf: u32,
    dev: u64,
    st: &Stat,
    ft: u8,
) -> WasiResult {
    mem.bytes_mut(buf, 64)?.fill(0);
    mem.write(buf, dev)?;
    mem.write(buf + 8, st.ino)?;
    mem.write(buf + 16, ft)?;
    mem.write(buf + 24, st.nlink)?;
    mem.write(buf + 32, st.size)?;
    mem.write(buf + 40, st.atim)?;
    mem.write(buf + 48, st.mtim)?;
    mem.write(buf + 56, st.ctim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fst_flags_become_setattr_bits() {
        let a = times_attr(7, 9, fstflags::ATIM | fstflags::MTIM_NOW).unwrap();
        assert_eq!(
            a.valid,
            setattr::ATIME | setattr::ATIME_SET | setattr::MTIME
        );
        assert_eq!((a.atime, a.mtime), (7, 0));
        let a = times_attr(7, 9, fstflags::MTIM).unwrap();
        assert_eq!(a.valid, setattr::MTIME | setattr::MTIME_SET);
        assert_eq!(a.mtime, 9);
        assert_eq!(times_attr(0, 0, 0).unwrap().valid, 0);
        assert_eq!(
            times_attr(0, 0, fstflags::ATIM | fstflags::ATIM_NOW).unwrap_err(),
            errno::INVAL
        );
        assert_eq!(
            times_attr(0, 0, fstflags::MTIM | fstflags::MTIM_NOW).unwrap_err(),
            errno::INVAL
        );
        assert_eq!(times_attr(0, 0, 0x10).unwrap_err(), errno::INVAL);
    }

    #[test]
    fn file_types() {
        let st = |mode| Stat {
            mode,
            ..Stat::default()
        };
        assert_eq!(filetype_of(&st(vfs::S_IFDIR | 0o755)), filetype::DIRECTORY);
        assert_eq!(filetype_of(&st(vfs::S_IFLNK)), filetype::SYMBOLIC_LINK);
        assert_eq!(filetype_of(&st(0o010000)), filetype::UNKNOWN); // FIFO
        assert_eq!(filetype_of_dt(8), filetype::REGULAR_FILE);
        assert_eq!(filetype_of_dt(12), filetype::SOCKET_STREAM);
        assert_eq!(filetype_of_dt(1), filetype::UNKNOWN); // DT_FIFO
    }
}
