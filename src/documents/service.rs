//! The documents feature as the routes use it: keep checked uploads, list, delete, re-index,
//! read back, search, and the indexer that turns queued files into searchable chunks.

use super::chunk::chunk;
use super::detect::{detect, Refused};
use super::extract::{check_docx, extract, Extracted, Limits};
use super::isolate;
use super::search;
use super::storage::Storage;
use crate::config::{DocumentSettings, ExtractIn};
use crate::db::{encode_vector, Inserted, NewFile, Scope, SharedStore, StoredFile};
use crate::error::{AppError, AppResult};
use crate::llm::{OllamaClient, OllamaError};
use crate::model::{FileInfo, FileKind, FileStatus, RefusedFile, SearchResults};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often a claimed file's heartbeat is refreshed, and after how long without one another
/// instance may take it over.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_STALE: Duration = Duration::from_secs(30);
/// How often the indexer looks for work nobody announced (files queued by another instance).
const POLL_EVERY: Duration = Duration::from_secs(5);

/// The program that extracts text in a child process: the setting, else this very binary.
fn extractor_program(settings: &DocumentSettings) -> Option<std::path::PathBuf> {
    if settings.extract_in != ExtractIn::Process {
        return None;
    }
    let program = settings
        .extractor_program
        .clone()
        .or_else(|| std::env::current_exe().ok());
    if program.is_none() {
        tracing::warn!("the server's own program cannot be found: text is extracted on a thread");
    }
    program
}

/// An upload that streamed in completely, not yet checked.
pub struct Received {
    /// The name, cleaned for display.
    pub name: String,
    pub temp: tempfile::NamedTempFile,
}

pub struct Documents {
    store: SharedStore,
    ollama: OllamaClient,
    settings: DocumentSettings,
    pub storage: Storage,
    instance_id: Uuid,
    /// The extractor program (process isolation), when there is one.
    extractor: Option<std::path::PathBuf>,
    started_at: chrono::DateTime<Utc>,
    wake: Notify,
    shutdown: CancellationToken,
}

impl Documents {
    pub async fn start(
        settings: &crate::config::Settings,
        store: SharedStore,
        ollama: OllamaClient,
        instance_id: Uuid,
        shutdown: CancellationToken,
    ) -> std::io::Result<Arc<Documents>> {
        let storage = Storage::from_settings(settings, &store);
        storage.prepare().await?;
        let documents = Arc::new(Documents {
            store,
            ollama,
            settings: settings.documents.clone(),
            storage,
            instance_id,
            extractor: extractor_program(&settings.documents),
            started_at: crate::db::now(),
            wake: Notify::new(),
            shutdown,
        });
        match documents
            .store
            .requeue_other_models(&documents.settings.embedding_model)
            .await
        {
            Ok(0) => {}
            Ok(count) => tracing::info!(
                count,
                model = %documents.settings.embedding_model,
                "files embedded with another model are queued to be embedded again"
            ),
            Err(error) => tracing::warn!(%error, "could not check files' embedding model"),
        }
        let indexer = documents.clone();
        tokio::spawn(async move { indexer.run_indexer().await });
        Ok(documents)
    }

    pub fn settings(&self) -> &DocumentSettings {
        &self.settings
    }

    pub(super) fn store(&self) -> &SharedStore {
        &self.store
    }

    pub(super) fn ollama(&self) -> &OllamaClient {
        &self.ollama
    }

    fn limits(&self) -> Limits {
        Limits {
            max_chars: self.settings.max_extracted_chars,
            max_archive_entries: self.settings.max_archive_entries,
            max_archive_bytes: self.settings.max_archive_bytes,
        }
    }

    /// Keeps the uploads that pass the checks (content type, quota); the others are refused
    /// with their reason. Nothing of a refused file stays on disk or in the database.
    pub async fn keep(
        &self,
        owner: Uuid,
        received: Vec<Received>,
    ) -> AppResult<(Vec<FileInfo>, Vec<RefusedFile>)> {
        let mut stored = Vec::new();
        let mut refused = Vec::new();
        for upload in received {
            let name = upload.name.clone();
            match self.keep_one(owner, upload).await {
                Ok(info) => stored.push(info),
                Err(KeepError::Refused(Refused(error))) => refused.push(RefusedFile {
                    name,
                    error,
                    too_large: false,
                }),
                Err(KeepError::App(error)) => return Err(error),
            }
        }
        if !stored.is_empty() {
            self.wake.notify_one();
        }
        Ok((stored, refused))
    }

    async fn keep_one(&self, owner: Uuid, upload: Received) -> Result<FileInfo, KeepError> {
        let bytes = tokio::fs::read(upload.temp.path()).await.map_err(|error| {
            tracing::error!(%error, "could not read an upload back");
            KeepError::App(AppError::Internal)
        })?;
        let kind = detect(&upload.name, &bytes).map_err(KeepError::Refused)?;
        let (bytes, kind) = if kind == FileKind::Docx {
            // Expanding the archive is work: a blocking thread.
            let limits = self.limits();
            tokio::task::spawn_blocking(move || check_docx(&bytes, &limits).map(|()| (bytes, kind)))
                .await
                .map_err(|_| KeepError::App(AppError::Internal))?
                .map_err(|e| KeepError::Refused(Refused(e.0)))?
        } else {
            (bytes, kind)
        };
        let id = Uuid::now_v7();
        let new = NewFile {
            id,
            owner_id: owner,
            name: &upload.name,
            kind,
            size_bytes: bytes.len() as i64,
            stored_in: self.storage.label(),
        };
        let quota = self.settings.quota_bytes.min(i64::MAX as u64) as i64;
        match &self.storage {
            Storage::Database => {
                let inserted = self
                    .store
                    .insert_file(&new, Some(&bytes), quota)
                    .await
                    .map_err(|e| KeepError::App(e.into()))?;
                self.inserted(inserted)
            }
            Storage::Disk(dir) => {
                // The bytes are in place before the row exists; if the row cannot be written
                // they are removed again.
                let path = Storage::path_of(dir, id);
                let temp = upload.temp;
                let kept = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || temp.persist_noclobber(&path).map(|_| ())
                })
                .await;
                if !matches!(kept, Ok(Ok(()))) {
                    tracing::error!(?kept, "could not move an upload into the files folder");
                    return Err(KeepError::App(AppError::Internal));
                }
                let inserted = self.store.insert_file(&new, None, quota).await;
                let result = match inserted {
                    Ok(inserted) => self.inserted(inserted),
                    Err(error) => Err(KeepError::App(error.into())),
                };
                if result.is_err() {
                    let _ = tokio::fs::remove_file(&path).await;
                }
                result
            }
        }
    }

    fn inserted(&self, inserted: Inserted) -> Result<FileInfo, KeepError> {
        match inserted {
            Inserted::Stored(info) => Ok(info),
            Inserted::OverQuota { used } => Err(KeepError::Refused(Refused(format!(
                "this file would take your documents past your quota of {} ({} used); \
                 delete some files first",
                crate::text::human_size(self.settings.quota_bytes),
                crate::text::human_size(used.max(0) as u64)
            )))),
        }
    }

    pub async fn list(&self, owner: Uuid) -> AppResult<Vec<FileInfo>> {
        Ok(self.store.list_files(owner).await?)
    }

    pub async fn get(&self, owner: Uuid, id: Uuid) -> AppResult<StoredFile> {
        self.store
            .get_file(owner, id)
            .await?
            .ok_or_else(|| AppError::NotFound("file".into()))
    }

    /// The file's bytes, for download.
    pub async fn content(&self, owner: Uuid, id: Uuid) -> AppResult<(StoredFile, Vec<u8>)> {
        let file = self.get(owner, id).await?;
        let bytes = self
            .storage
            .read(&self.store, &file)
            .await
            .map_err(|error| {
                tracing::error!(%error, file_id = %id, "a stored file's bytes cannot be read");
                AppError::Unavailable("this file's content cannot be read now".into())
            })?;
        Ok((file, bytes))
    }

    /// Deletes a file: its bytes, text, chunks and vectors.
    pub async fn delete(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        let file = self
            .store
            .delete_file(owner, id)
            .await?
            .ok_or_else(|| AppError::NotFound("file".into()))?;
        self.storage.remove(&file).await;
        Ok(())
    }

    /// Indexes a finished file again (after a failure, or to pick up a new embedding model).
    pub async fn reindex(&self, owner: Uuid, id: Uuid) -> AppResult<FileInfo> {
        let file = self.get(owner, id).await?.info;
        if file.kind.is_image() {
            return Err(AppError::InvalidInput(
                "an image has no text to index".into(),
            ));
        }
        if let Some(file) = self.store.requeue_file(owner, id).await? {
            self.wake.notify_one();
            return Ok(file);
        }
        match self.get(owner, id).await?.info {
            queued if queued.status == FileStatus::Queued => Ok(queued),
            _ => Err(AppError::Conflict("this file is being indexed now".into())),
        }
    }

    pub async fn search(
        &self,
        owner: Uuid,
        query: &str,
        file: Option<Uuid>,
        limit: usize,
    ) -> AppResult<SearchResults> {
        // A file that is not the person's is as unknown as one that does not exist.
        if let Some(file) = file {
            self.get(owner, file).await?;
        }
        let scope = file.map(Scope::File).unwrap_or(Scope::All);
        search::hybrid(
            &self.store,
            &self.ollama,
            &self.settings,
            owner,
            query,
            scope,
            limit,
        )
        .await
    }

    /// Claims pending files one after the other, until shutdown.
    async fn run_indexer(self: Arc<Self>) {
        loop {
            loop {
                if self.shutdown.is_cancelled() {
                    return;
                }
                let claimed = self
                    .store
                    .claim_file(self.instance_id, self.stale_before())
                    .await;
                match claimed {
                    Ok(Some(file)) => self.index(file).await,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "the indexer cannot read its queue");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    /// Claims older than this were made by an instance that stopped. One server alone on its
    /// database knows that every claim from before its start is such a one.
    fn stale_before(&self) -> chrono::DateTime<Utc> {
        let stale = crate::db::now()
            - chrono::Duration::from_std(HEARTBEAT_STALE).unwrap_or(chrono::Duration::seconds(30));
        if self.store.shared_by_instances() {
            stale
        } else {
            stale.max(self.started_at)
        }
    }

    /// Extracts (unless done before) and embeds one claimed file, keeping its claim alive.
    async fn index(&self, file: StoredFile) {
        let id = file.info.id;
        let lost = CancellationToken::new();
        let heartbeat = {
            let (store, lost, instance) = (self.store.clone(), lost.clone(), self.instance_id);
            tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT_EVERY).await;
                    if let Ok(false) = store.file_heartbeat(id, instance).await {
                        lost.cancel();
                        return;
                    }
                }
            }))
        };
        let outcome = tokio::select! {
            outcome = self.index_steps(&file) => outcome,
            // Deleted, or taken over: leave it.
            _ = lost.cancelled() => return,
            _ = self.shutdown.cancelled() => return,
        };
        drop(heartbeat);
        let (status, error) = match outcome {
            Ok(()) => (FileStatus::Ready, None),
            Err(reason) => (FileStatus::Failed, Some(reason)),
        };
        match self
            .store
            .finish_file(id, self.instance_id, status, error.as_deref())
            .await
        {
            Ok(Some(info)) => {
                tracing::info!(file_id = %id, status = info.status.as_str(), chunks = info.chunk_count, "file indexed")
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, file_id = %id, "could not record the end of indexing")
            }
        }
    }

    /// `Err` holds the reason shown to the person.
    async fn index_steps(&self, file: &StoredFile) -> Result<(), String> {
        let id = file.info.id;
        if !file.extracted {
            let bytes = self
                .storage
                .read(&self.store, file)
                .await
                .map_err(|error| {
                    tracing::error!(%error, file_id = %id, "a stored file's bytes cannot be read");
                    "the file's content cannot be read".to_string()
                })?;
            let kind = file.info.kind;
            let limits = self.limits();
            let (size, overlap) = (self.settings.chunk_chars, self.settings.chunk_overlap);
            let text = self.extract_text(kind, bytes, limits).await?;
            let (pages, truncated) = (text.pages, text.truncated);
            let chunks = tokio::task::spawn_blocking(move || chunk(&text.parts, size, overlap))
                .await
                .map_err(|_| "the file's text could not be cut into passages".to_string())?;
            let note = truncated.then(|| {
                format!(
                    "only the first {} characters of this file are searchable",
                    self.settings.max_extracted_chars
                )
            });
            let saved = self
                .store
                .save_chunks(id, self.instance_id, &chunks, pages, note.as_deref())
                .await
                .map_err(|error| {
                    tracing::error!(%error, file_id = %id, "could not store a file's chunks");
                    "its text could not be stored".to_string()
                })?;
            if !saved {
                return Err("the file changed while it was read".into());
            }
        }
        self.embed_all(id).await
    }

    /// The text of a file, read where the settings say: the PDF reader is young and files are
    /// hostile, so by default in a child process (see `isolate`), else on a blocking thread
    /// with a panic caught; a time limit either way.
    async fn extract_text(
        &self,
        kind: FileKind,
        bytes: Vec<u8>,
        limits: Limits,
    ) -> Result<Extracted, String> {
        let timeout = self.settings.extract_timeout();
        // Set only in process mode (see `extractor_program`).
        if let Some(program) = &self.extractor {
            return isolate::extract_in_child(
                program,
                kind,
                bytes,
                limits,
                self.settings.extract_memory_bytes,
                timeout,
            )
            .await;
        }
        let work = tokio::task::spawn_blocking(move || extract(kind, &bytes, &limits));
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(result)) => result.map_err(|e| e.0),
            Ok(Err(_)) => Err(isolate::READER_FAILED.into()),
            Err(_) => Err(isolate::too_slow(timeout)),
        }
    }

    async fn embed_all(&self, id: Uuid) -> Result<(), String> {
        let model = &self.settings.embedding_model;
        loop {
            let batch = self
                .store
                .chunks_to_embed(id, model, self.settings.embed_batch as i64)
                .await
                .map_err(|error| {
                    tracing::error!(%error, file_id = %id, "could not read chunks to embed");
                    "its chunks could not be read".to_string()
                })?;
            if batch.is_empty() {
                return Ok(());
            }
            let texts: Vec<&str> = batch.iter().map(|(_, text)| text.as_str()).collect();
            let vectors = self.embed_with_retries(&texts).await?;
            let rows: Vec<(Uuid, Vec<u8>)> = batch
                .iter()
                .zip(&vectors)
                .map(|((chunk_id, _), vector)| (*chunk_id, encode_vector(vector)))
                .collect();
            let saved = self
                .store
                .save_embeddings(id, self.instance_id, model, &rows)
                .await
                .map_err(|error| {
                    tracing::error!(%error, file_id = %id, "could not store embeddings");
                    "its embeddings could not be stored".to_string()
                })?;
            if !saved {
                return Err("the file changed while it was embedded".into());
            }
        }
    }

    /// Three tries with a growing pause for what may pass (Ollama restarting, overloaded); a
    /// missing model fails at once with the command that fixes it.
    async fn embed_with_retries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let model = &self.settings.embedding_model;
        let mut pause = Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match self
                .ollama
                .embed(model, texts, self.settings.embed_timeout())
                .await
            {
                Ok(vectors) => return Ok(vectors),
                Err(OllamaError::ModelNotFound(_)) => {
                    return Err(missing_model_message(model));
                }
                Err(error) if attempt >= 3 => {
                    tracing::warn!(%error, "embedding failed");
                    return Err(match error {
                        OllamaError::Unreachable { .. } => format!(
                            "Ollama is not reachable at {}: the file is searchable by keywords; \
                             index it again once Ollama runs",
                            crate::config::public_url(self.ollama.base_url())
                        ),
                        other => format!(
                            "embedding failed ({other}): the file is searchable by keywords; \
                             index it again to retry"
                        ),
                    });
                }
                Err(error) => {
                    tracing::info!(%error, attempt, "embedding failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

/// What a person reads when the embedding model is not pulled.
pub fn missing_model_message(model: &str) -> String {
    format!(
        "the embedding model '{model}' is not installed in Ollama: run `ollama pull {model}`, \
         then index the file again (it is searchable by keywords meanwhile)"
    )
}

enum KeepError {
    Refused(Refused),
    App(AppError),
}
