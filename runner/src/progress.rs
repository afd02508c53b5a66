//! The progress bar of a long compile in `hako run`, `build` and `compile`: on stderr when it
//! is a terminal, shown only once the compile has taken [`SHOW_AFTER`] (a small module
//! compiles in less, and a bar that flashes for a moment is noise), cleared when the compile
//! ends so that the program's own output starts on a clean line.
//!
//! The bar advances by Wasm code compiled (the compiler reports each part as it finishes,
//! see [`hako_compiler_api::Progress`]) and says how many parts and functions are done and how
//! long indicatif estimates the rest will take.

use hako_compiler_api::{Progress, ProgressFn};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a compile runs before its bar appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The bar of one compile (see the module docs); [`CompileProgress::finish`] clears it.
pub struct CompileProgress {
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    timer: Option<std::thread::JoinHandle<()>>,
}

impl CompileProgress {
    /// A bar for compiling `what`, or `None` when stderr is not a terminal.
    pub fn start(what: &str) -> Option<CompileProgress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} compiling {prefix} {elapsed} {bar:20} {msg}, {eta} left",
            )
            .expect("valid template"),
        );
        // The file name only: the line must fit a terminal's width, or it wraps on every redraw.
        let name = std::path::Path::new(what)
            .file_name()
            .map_or(what.into(), |n| n.to_string_lossy());
        bar.set_prefix(name.into_owned());
        bar.set_message("validating");
        let done = Arc::new(AtomicBool::new(false));
        let timer = {
            let (bar, done) = (bar.clone(), done.clone());
            std::thread::Builder::new()
                .name("hako-progress".into())
                .spawn(move || {
                    std::thread::park_timeout(SHOW_AFTER);
                    if !done.load(Ordering::Acquire) {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                        bar.enable_steady_tick(Duration::from_millis(200));
                    }
                })
                .ok()
        };
        Some(CompileProgress { bar, done, timer })
    }

    /// The compiler's side: [`hako_compiler_api::Options::progress`].
    pub fn callback(&self) -> ProgressFn {
        let bar = self.bar.clone();
        ProgressFn::new(move |p| update(&bar, p))
    }

    /// Clears the bar (if it was shown).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(timer) = self.timer.take() {
            timer.thread().unpark();
            let _ = timer.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for CompileProgress {
    /// A compile that fails (or panics) clears its bar too, before the error is printed.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets `bar` to `p`: its position in bytes of code, parts and functions in the message.
fn update(bar: &ProgressBar, p: Progress) {
    bar.set_length(p.code_bytes as u64);
    bar.set_position(p.code_bytes_done as u64);
    bar.set_message(message(&p));
}

/// `3/40 parts, 2100/32092 functions`, or the functions of a module compiled whole.
pub fn message(p: &Progress) -> String {
    if p.parts == 1 {
        return format!("{} functions", p.functions);
    }
    format!(
        "{}/{} parts, {}/{} functions",
        p.parts_done, p.parts, p.functions_done, p.functions
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_counts_parts_and_functions() {
        let p = Progress {
            parts_done: 3,
            parts: 40,
            functions_done: 2100,
            functions: 32092,
            code_bytes_done: 10,
            code_bytes: 100,
        };
        assert_eq!(message(&p), "3/40 parts, 2100/32092 functions");
        let bar = ProgressBar::hidden();
        update(&bar, p);
        assert_eq!((bar.position(), bar.length()), (10, Some(100)));
    }
}
