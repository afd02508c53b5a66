//! Panics as errors. The suites run the compiler on thousands of inputs (every module of the
//! spec testsuite, every WASI program); a panic on one input must become that input's
//! failure, with the panic's message, and the run goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A caught panic; displays as its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic(pub String);

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Panic {}

/// Run `f`, turning a panic into [`Panic`]. Nothing `f` borrows is used after a panic but to
/// report it, so unwind safety is asserted.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Panic(message(&*payload)))
}

/// The message of a caught panic's payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_their_message() {
        assert_eq!(catch(|| 1), Ok(1));
        assert_eq!(
            catch(|| -> () { panic!("at {}", 3) }),
            Err(Panic("at 3".into()))
        );
        assert_eq!(
            catch(|| std::panic::panic_any(7u8))
                .unwrap_err()
                .to_string(),
            "(non-string panic payload)"
        );
    }
}
