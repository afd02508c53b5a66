//! # hako-linux: the Linux target
#![deny(unsafe_code)]

pub mod fs;
