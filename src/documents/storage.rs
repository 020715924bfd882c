//! Where files' bytes live: a folder the server never serves (files named by their id, no
//! extension), or the database (so that every instance of a PostgreSQL deployment can read
//! them). Uploads stream into a temporary file first; nothing is kept until the whole upload
//! was read and checked.

use crate::config::{FileStorage, Settings};
use crate::db::{SharedStore, StoredFile};
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum Storage {
    Disk(PathBuf),
    Database,
}

impl Storage {
    pub fn from_settings(settings: &Settings, store: &SharedStore) -> Storage {
        match settings.documents.storage {
            FileStorage::Disk => Storage::Disk(settings.files_dir()),
            FileStorage::Database => Storage::Database,
            FileStorage::Auto if store.shared_by_instances() => Storage::Database,
            FileStorage::Auto => Storage::Disk(settings.files_dir()),
        }
    }

    /// The `stored_in` value of files kept here.
    pub fn label(&self) -> &'static str {
        match self {
            Storage::Disk(_) => "disk",
            Storage::Database => "database",
        }
    }

    /// Where uploads stream to: beside the files on disk (so that keeping one is a rename on
    /// the same file system), else the system's temporary folder.
    pub fn incoming_dir(&self) -> PathBuf {
        match self {
            Storage::Disk(dir) => dir.join(".incoming"),
            Storage::Database => std::env::temp_dir(),
        }
    }

    /// Creates the folders, and removes what an interrupted upload left in the incoming folder.
    pub async fn prepare(&self) -> std::io::Result<()> {
        if let Storage::Disk(dir) = self {
            tokio::fs::create_dir_all(dir.join(".incoming")).await?;
            let mut entries = tokio::fs::read_dir(dir.join(".incoming")).await?;
            while let Some(entry) = entries.next_entry().await? {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }

    pub fn path_of(dir: &std::path::Path, id: Uuid) -> PathBuf {
        dir.join(id.simple().to_string())
    }

    /// The bytes of a stored file.
    pub async fn read(&self, store: &SharedStore, file: &StoredFile) -> std::io::Result<Vec<u8>> {
        match (file.stored_in.as_str(), self) {
            ("database", _) => store
                .file_bytes(file.info.owner_id, file.info.id)
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no bytes")),
            (_, Storage::Disk(dir)) => tokio::fs::read(Self::path_of(dir, file.info.id)).await,
            // Stored on disk by a server set up differently.
            (_, Storage::Database) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "this file was kept on disk, and this server keeps files in the database",
            )),
        }
    }

    /// Removes a deleted file's bytes from disk (in the database they went with its row).
    pub async fn remove(&self, file: &StoredFile) {
        if let (Storage::Disk(dir), "disk") = (self, file.stored_in.as_str()) {
            let path = Self::path_of(dir, file.info.id);
            if let Err(error) = tokio::fs::remove_file(&path).await {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(%error, file_id = %file.info.id, "could not remove a deleted file's bytes");
                }
            }
        }
    }
}
