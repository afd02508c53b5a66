//! OCI images of WebAssembly programs (`hako image`): an OCI image layout in one tar file,
//! which `ctr image import` (and `nerdctl load`, `skopeo copy oci-archive:...`) take.
//!
//! Two layouts, both of which the containerd shim (`containerd-shim-hako-v1`) runs:
//!
//! - [`Layout::Wasm`], runwasi's: the module is a layer of its own, media type
//!   [`WASM_LAYER`], not a file system; the image config has no file-system layers
//!   (`rootfs.diff_ids` is empty), `os` `wasip1`, `architecture` `wasm`, and the entrypoint is
//!   the module's name. runwasi's Wasmtime and WasmEdge shims run the same image. containerd
//!   1.6.25 / 1.7.7 or later is needed to unpack it (earlier ones refuse a manifest whose
//!   layers are not all file systems).
//! - [`Layout::Rootfs`], an ordinary image: one file-system layer holding `/NAME.wasm`, the
//!   entrypoint; any containerd runs it.
//!
//! The tar is reproducible: the same module and name give the same bytes.

use anyhow::{bail, Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::str::FromStr;

/// The layer media type of a WebAssembly module in runwasi's image layout.
pub const WASM_LAYER: &str = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
/// The other media types runwasi's shims take as a module layer: the CNCF Wasm OCI artifact's
/// (`application/wasm`, with config `application/vnd.wasm.config.v0+json`).
pub const WASM_LAYERS: &[&str] = &[WASM_LAYER, "application/wasm"];

/// Which image layout [`build`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// The module as a Wasm layer (runwasi's layout).
    Wasm,
    /// The module as a file in an ordinary file-system layer.
    Rootfs,
}

/// An image reference split into the name containerd records and the tag.
fn reference(name: &str) -> Result<(String, String)> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("--name `{name}` is not an image reference (e.g. `hello:latest`)");
    }
    // A tag is what follows the last `:` after the last `/` (a `:` before a `/` is a port).
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo, tag) = match last.rfind(':') {
        Some(i) => (&name[..name.len() - last.len() + i], &last[i + 1..]),
        None => (name, "latest"),
    };
    if repo.is_empty() || tag.is_empty() {
        bail!("--name `{name}` is not an image reference (e.g. `hello:latest`)");
    }
    // containerd's default registry and namespace, as `docker`/`nerdctl` complete them.
    let repo = if !repo.contains('/') {
        format!("docker.io/library/{repo}")
    } else if !repo.split('/').next().unwrap_or("").contains(['.', ':']) && repo != "localhost" {
        format!("docker.io/{repo}")
    } else {
        repo.to_string()
    };
    Ok((format!("{repo}:{tag}"), tag.to_string()))
}

/// The image's entrypoint file name for a module called `module_name` (a path's last part).
pub fn entry_name(module_name: &str) -> String {
    let stem = module_name
        .rsplit('/')
        .next()
        .unwrap_or(module_name)
        .trim_end_matches(".wasm")
        .trim_end_matches(".wat");
    let stem = if stem.is_empty() { "app" } else { stem };
    format!("{stem}.wasm")
}

/// Blobs of the layout, by digest, in the order written.
#[derive(Default)]
struct Blobs(Vec<(String, Vec<u8>)>);

impl Blobs {
    fn add(&mut self, media_type: MediaType, bytes: Vec<u8>) -> Result<Descriptor> {
        let hex = format!("{:x}", Sha256::digest(&bytes));
        let desc = DescriptorBuilder::default()
            .media_type(media_type)
            .digest(Digest::from_str(&format!("sha256:{hex}"))?)
            .size(bytes.len() as u64)
            .build()?;
        self.0.push((hex, bytes));
        Ok(desc)
    }
}

/// JSON with the keys of every object sorted: `oci-spec` keeps labels and annotations in hash
/// maps, whose order changes from run to run.
fn canonical_json(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sorted(serde_json::to_value(value)?))?)
}

fn tar_entry(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)
        .with_context(|| format!("writing {path}"))
}

/// Write the image of `wasm` (a binary module), named `name` (`NAME[:TAG]`), to `out` as an
/// OCI image layout tar. `module_name` names the module file inside the image.
pub fn build(
    wasm: &[u8],
    module_name: &str,
    name: &str,
    layout: Layout,
    out: impl Write,
) -> Result<()> {
    let (full_name, tag) = reference(name)?;
    let entry = entry_name(module_name);
    let mut blobs = Blobs::default();
    let (layers, diff_ids, entrypoint) = match layout {
        Layout::Wasm => {
            let layer = blobs.add(MediaType::Other(WASM_LAYER.to_string()), wasm.to_vec())?;
            (vec![layer], Vec::new(), entry.clone())
        }
        Layout::Rootfs => {
            let mut tar = tar::Builder::new(Vec::new());
            tar_entry(&mut tar, &entry, wasm, 0o755)?;
            let bytes = tar.into_inner()?;
            // Uncompressed: the layer's digest is its diff ID.
            let layer = blobs.add(MediaType::ImageLayer, bytes)?;
            let diff_id = layer.digest().to_string();
            (vec![layer], vec![diff_id], format!("/{entry}"))
        }
    };
    // runwasi labels its configs with the layers' digests, so that two images of different
    // modules never share a config (and so a snapshot) when they have no file-system layer.
    let mut labels = HashMap::new();
    labels.insert(
        "containerd.runwasi.layers".to_string(),
        format!(
            "{:x}",
            Sha256::digest(
                layers
                    .iter()
                    .map(|l| l.digest().to_string())
                    .collect::<String>()
            )
        ),
    );
    let config = ImageConfigurationBuilder::default()
        .os(Os::Other("wasip1".to_string()))
        .architecture(Arch::Wasm)
        .config(
            ConfigBuilder::default()
                .entrypoint(vec![entrypoint])
                .labels(labels)
                .build()?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids)
                .build()?,
        )
        .build()?;
    let config = blobs.add(MediaType::ImageConfig, canonical_json(&config)?)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()?;
    let mut manifest_desc = blobs.add(MediaType::ImageManifest, canonical_json(&manifest)?)?;
    let mut annotations = HashMap::new();
    annotations.insert("io.containerd.image.name".to_string(), full_name);
    annotations.insert("org.opencontainers.image.ref.name".to_string(), tag);
    manifest_desc.set_annotations(Some(annotations));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_desc])
        .build()?;

    let mut tar = tar::Builder::new(out);
    tar_entry(
        &mut tar,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
    )?;
    for (hex, bytes) in &blobs.0 {
        tar_entry(&mut tar, &format!("blobs/sha256/{hex}"), bytes, 0o644)?;
    }
    tar_entry(&mut tar, "index.json", &canonical_json(&index)?, 0o644)?;
    tar.into_inner()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

    fn entries(tar: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
                (path, bytes)
            })
            .collect()
    }

    fn blob<'a>(files: &'a HashMap<String, Vec<u8>>, d: &Descriptor) -> &'a [u8] {
        let bytes = &files[&format!("blobs/sha256/{}", d.digest().digest())];
        assert_eq!(bytes.len() as u64, d.size());
        assert_eq!(format!("{:x}", Sha256::digest(bytes)), d.digest().digest());
        bytes
    }

    fn read(
        layout: Layout,
    ) -> (
        ImageIndex,
        ImageManifest,
        ImageConfiguration,
        HashMap<String, Vec<u8>>,
    ) {
        let mut out = Vec::new();
        build(
            b"\0asm\x01\0\0\0",
            "dir/hello.wasm",
            "hello:v1",
            layout,
            &mut out,
        )
        .unwrap();
        let files = entries(&out);
        let index: ImageIndex = serde_json::from_slice(&files["index.json"]).unwrap();
        let manifest: ImageManifest =
            serde_json::from_slice(blob(&files, &index.manifests()[0])).unwrap();
        let config: ImageConfiguration =
            serde_json::from_slice(blob(&files, manifest.config())).unwrap();
        (index, manifest, config, files)
    }

    #[test]
    fn wasm_layout_is_runwasis() {
        let (index, manifest, config, files) = read(Layout::Wasm);
        let ann = index.manifests()[0].annotations().as_ref().unwrap();
        assert_eq!(
            ann["io.containerd.image.name"],
            "docker.io/library/hello:v1"
        );
        assert_eq!(manifest.layers().len(), 1);
        assert_eq!(manifest.layers()[0].media_type().to_string(), WASM_LAYER);
        assert_eq!(blob(&files, &manifest.layers()[0]), b"\0asm\x01\0\0\0");
        assert!(config.rootfs().diff_ids().is_empty());
        assert_eq!(config.os().to_string(), "wasip1");
        assert_eq!(
            config.config().as_ref().unwrap().entrypoint().as_deref(),
            Some(&["hello.wasm".to_string()][..])
        );
    }

    #[test]
    fn rootfs_layout_holds_the_module_as_a_file() {
        let (_, manifest, config, files) = read(Layout::Rootfs);
        let layer = &manifest.layers()[0];
        assert_eq!(layer.media_type(), &MediaType::ImageLayer);
        assert_eq!(
            config.rootfs().diff_ids(),
            &vec![layer.digest().to_string()]
        );
        let inner = entries(blob(&files, layer));
        assert_eq!(inner["hello.wasm"], b"\0asm\x01\0\0\0");
        assert_eq!(
            config.config().as_ref().unwrap().entrypoint().as_deref(),
            Some(&["/hello.wasm".to_string()][..])
        );
    }

    #[test]
    fn reproducible() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        build(b"\0asm\x01\0\0\0", "x.wasm", "x", Layout::Wasm, &mut a).unwrap();
        build(b"\0asm\x01\0\0\0", "x.wasm", "x", Layout::Wasm, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn references() {
        assert_eq!(
            reference("hello").unwrap().0,
            "docker.io/library/hello:latest"
        );
        assert_eq!(reference("me/app:2").unwrap().0, "docker.io/me/app:2");
        assert_eq!(
            reference("localhost:5000/app").unwrap().0,
            "localhost:5000/app:latest"
        );
        assert_eq!(reference("ghcr.io/a/b:c").unwrap().0, "ghcr.io/a/b:c");
        assert!(reference("").is_err());
        assert!(reference("a b").is_err());
        assert!(reference("app:").is_err());
    }
}
