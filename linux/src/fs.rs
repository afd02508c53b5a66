//! The preopened directories of the Linux target: [`hako_kernel::wasi::vfs::Backend`] over
//! host directories.
