//! Program mode: instantiate `hako_main_module`, run its start function and `_start`, and
//! report the outcome on the harness channel.

use crate::cmdline;
use crate::hw::{self, serial, wasm};
use crate::store::{InstError, STORE};
use crate::wasi::WasiCtx;
use hako_abi::boot::EXIT_DONE;
use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;

fn done() -> ! {
    serial::debug_exit(EXIT_DONE)
}

fn error(args: core::fmt::Arguments<'_>) -> ! {
    serial::record(format_args!("error {args}"));
    done()
}

fn trapped(code: TrapCode) -> ! {
    serial::record(format_args!("trap {} {}", code as u32, code.message()));
    done()
}

pub fn main(line: &[u8]) -> ! {
    hw::time::init();
    let cl = match cmdline::parse(line) {
        Ok(c) => c,
        Err(tok) => error(format_args!(
            "bad command-line token {}",
            core::str::from_utf8(tok).unwrap_or("?")
        )),
    };
    wasm::set_wasi(WasiCtx::new(cl.args, cl.env));

    let desc = wasm::main_module();
    let r = STORE.with(|s| s.instantiate(desc, &mut |_, _, _, _| None));
    let (id, start) = match r {
        Ok(x) => x,
        Err(InstError::Error(e)) => error(format_args!("{e}")),
        Err(InstError::Trap(t)) => trapped(t),
    };
    if let Some(f) = start {
        let mut values = [ValRaw::default(); 1];
        if let Err(t) = wasm::call(f.code, f.vmctx, &mut values) {
            trapped(t);
        }
    }
    let Some(f) = STORE.with(|s| s.export_func(id, "_start")) else {
        error(format_args!("the program has no _start export"))
    };
    if f.array_call.is_null() {
        error(format_args!("_start has no array-call trampoline"));
    }
    let mut values = [ValRaw::default(); 1];
    match wasm::call(f.array_call, f.vmctx, &mut values) {
        Ok(()) => {
            serial::record(format_args!("exit 0"));
            done()
        }
        Err(t) => trapped(t),
    }
}
