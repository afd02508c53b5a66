//! The booter for spec images: links the module table and the generated manifest (with the
//! script) for a [`Target`] (with the kernel into an image, or with the Linux runtime into
//! an executable), runs it, and hands back the harness lines.

use super::{BootOutput, Booter, Resume, SpecImage};
use crate::cache::Cache;
use crate::image::{self, BuildReport, Target};
use crate::manifest;
use crate::qemu::{self, Outcome, Sink};
use hako_abi::script::image_kind;
use std::time::Duration;

/// Per-boot time limit; `HAKO_SPEC_TIMEOUT` (seconds) overrides.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

pub struct TargetBooter {
    cache: Cache,
    /// Unikernel images booted in QEMU, or Linux executables.
    target: Target,
    /// The per-boot limit, or why `HAKO_SPEC_TIMEOUT` was refused (then every boot fails
    /// saying so).
    timeout: anyhow::Result<Duration>,
}

impl TargetBooter {
    pub fn new(cache: Cache, target: Target) -> TargetBooter {
        let timeout = crate::limits::env_timeout("HAKO_SPEC_TIMEOUT", DEFAULT_TIMEOUT);
        TargetBooter {
            cache,
            target,
            timeout,
        }
    }

    fn link(&self, image: &SpecImage) -> anyhow::Result<std::path::PathBuf> {
        let descriptors: Vec<String> = image
            .modules
            .iter()
            .map(|m| format!("{}_module", m.prefix))
            .collect();
        let manifest = manifest::object(image_kind::SCRIPT, &descriptors, &image.script)?;
        let mut objects = vec![image::cached_bytes(&self.cache, &manifest, "o")?];
        for module in &image.modules {
            objects.push(image::cached_bytes(&self.cache, &module.object, "o")?);
        }
        image::link_cached(
            &objects,
            self.target,
            &self.cache,
            &mut BuildReport::default(),
        )
    }
}

impl Booter for TargetBooter {
    fn boot(&self, image: &SpecImage, resume: &Resume) -> anyhow::Result<BootOutput> {
        let elf = self.link(image)?;
        let mut config = qemu::BootConfig::new(vec![image.name.clone()])?;
        config.timeout = match &self.timeout {
            Ok(timeout) => *timeout,
            Err(e) => anyhow::bail!("{e:#}"),
        };
        config.stdout = Sink::Capture;
        config.stderr = Sink::Capture;
        config.extra_cmdline = resume.cmdline_tokens();
        let run = self.target.boot(&elf, &config)?;
        let lines = run.harness_lines();
        let finished = lines.iter().any(|l| l == "done");
        let abnormal_end = match (&run.outcome, finished) {
            (_, true) => None,
            (Outcome::TimedOut(d), _) => Some(format!("timeout after {} s", d.as_secs())),
            (outcome, _) => Some(
                outcome
                    .describe()
                    .unwrap_or_else(|| "the kernel ended without finishing the script".into()),
            ),
        };
        Ok(BootOutput {
            lines,
            abnormal_end,
        })
    }
}
