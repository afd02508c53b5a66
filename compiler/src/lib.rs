//! placeholder
use inkwell as _;
use wasmparser as _;
