//! The module of an image in runwasi's layout: a Wasm layer that containerd keeps in its
//! content store (it unpacks only file-system layers), read through containerd's gRPC API as
//! runwasi's shims read it: the container's image, its manifest (from an index, the one
//! whose layers include a Wasm layer), and the layer's bytes.

use anyhow::{anyhow, bail, Context, Result};
use containerd_client::services::v1::{
    containers_client::ContainersClient, content_client::ContentClient,
    images_client::ImagesClient, GetContainerRequest, GetImageRequest, ReadContentRequest,
};
use containerd_client::tonic::{transport::Channel, Request};
use containerd_client::with_namespace;
use hako_runner::oci::WASM_LAYERS;
use oci_spec::image::{ImageIndex, ImageManifest, MediaType};

/// The bytes of the Wasm layer of container `id`'s image, or `None` when the image has none
/// (then the module is a file in the root file system), or when the container has no image.
pub fn wasm_layer(address: &str, namespace: &str, id: &str) -> Result<Option<Vec<u8>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for containerd's API")?;
    runtime.block_on(async {
        let channel = containerd_client::connect(address)
            .await
            .with_context(|| format!("cannot connect to containerd at {address}"))?;
        let client = Client {
            channel,
            namespace: namespace.to_string(),
        };
        client.wasm_layer(id).await
    })
}

struct Client {
    channel: Channel,
    namespace: String,
}

impl Client {
    async fn wasm_layer(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let request = with_namespace!(GetContainerRequest { id: id.to_string() }, self.namespace);
        let container = ContainersClient::new(self.channel.clone())
            .get(request)
            .await
            .with_context(|| format!("containerd has no container {id}"))?
            .into_inner()
            .container
            .ok_or_else(|| anyhow!("containerd has no container {id}"))?;
        if container.image.is_empty() {
            return Ok(None);
        }
        let request = with_namespace!(
            GetImageRequest {
                name: container.image.clone()
            },
            self.namespace
        );
        let image = ImagesClient::new(self.channel.clone())
            .get(request)
            .await
            .with_context(|| format!("containerd has no image {}", container.image))?
            .into_inner()
            .image
            .ok_or_else(|| anyhow!("containerd has no image {}", container.image))?;
        let target = image
            .target
            .ok_or_else(|| anyhow!("the image {} has no target", container.image))?;
        let manifest = self.manifest(&target.media_type, &target.digest).await?;
        let layers: Vec<_> = manifest
            .layers()
            .iter()
            .filter(|l| WASM_LAYERS.contains(&l.media_type().to_string().as_str()))
            .collect();
        match layers.as_slice() {
            [] => Ok(None),
            [layer] => Ok(Some(self.read(layer.digest().as_ref()).await?)),
            more => bail!(
                "the image {} has {} Wasm layers: hako runs one module per container",
                container.image,
                more.len()
            ),
        }
    }

    /// The image manifest at `digest`; for an index, the first manifest with a Wasm layer.
    async fn manifest(&self, media_type: &str, digest: &str) -> Result<ImageManifest> {
        let bytes = self.read(digest).await?;
        let is_index = media_type == MediaType::ImageIndex.to_string()
            || media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
        if !is_index {
            return ImageManifest::from_reader(bytes.as_slice())
                .with_context(|| format!("the image manifest {digest} does not parse"));
        }
        let index = ImageIndex::from_reader(bytes.as_slice())
            .with_context(|| format!("the image index {digest} does not parse"))?;
        let mut first = None;
        for entry in index.manifests() {
            let bytes = match self.read(entry.digest().as_ref()).await {
                Ok(bytes) => bytes,
                // Only some platforms' manifests are in the store.
                Err(_) => continue,
            };
            let Ok(manifest) = ImageManifest::from_reader(bytes.as_slice()) else {
                continue;
            };
            if manifest
                .layers()
                .iter()
                .any(|l| WASM_LAYERS.contains(&l.media_type().to_string().as_str()))
            {
                return Ok(manifest);
            }
            first.get_or_insert(manifest);
        }
        first.ok_or_else(|| anyhow!("no manifest of the image index {digest} is in the store"))
    }

    async fn read(&self, digest: &str) -> Result<Vec<u8>> {
        let request = with_namespace!(
            ReadContentRequest {
                digest: digest.to_string(),
                ..Default::default()
            },
            self.namespace
        );
        let mut stream = ContentClient::new(self.channel.clone())
            .read(request)
            .await
            .with_context(|| format!("cannot read {digest} from containerd's content store"))?
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream
            .message()
            .await
            .with_context(|| format!("reading {digest} from containerd's content store"))?
        {
            bytes.extend_from_slice(&chunk.data);
        }
        Ok(bytes)
    }
}
