//! Storage of documents: files, their bytes (when kept in the database), chunks, embeddings,
//! keyword indexes. One text of each query serves both databases (`portable_documents!`); the
//! keyword search and the claim of pending work differ and come from each backend.

use crate::documents::chunk::ChunkDraft;
use crate::model::{FileInfo, FileKind, FileStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The kinds of the outbox events documents write.
pub const OUTBOX_FILE_UPLOADED: &str = "file.uploaded";
pub const OUTBOX_FILE_INDEXED: &str = "file.indexed";

/// The owner's files linked to one `key` (`$1`; the owner is `$2`) through a link table or
/// view (`k`), in `order`.
pub(super) fn linked_files_sql(link: &str, key: &str, order: &str) -> String {
    let columns = FILE_COLUMNS
        .split(", ")
        .map(|column| format!("f.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns} FROM {link} k JOIN files f ON f.id = k.file_id \
         WHERE k.{key} = $1 AND k.owner_id = $2 ORDER BY {order}"
    )
}

pub(super) const FILE_COLUMNS: &str =
    "id, owner_id, name, kind, size_bytes, status, error, pages, \
     chunk_count, embedded_count, embedding_model, created_at, updated_at";

/// A file as the server handles it: what people see, and where its bytes are.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StoredFile {
    #[sqlx(flatten)]
    pub info: FileInfo,
    /// `disk` or `database`.
    pub stored_in: String,
    /// Its chunks are stored (only embedding may be left to do).
    pub extracted: bool,
}

/// A new upload.
#[derive(Clone, Debug)]
pub struct NewFile<'a> {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: &'a str,
    pub kind: FileKind,
    pub size_bytes: i64,
    pub stored_in: &'a str,
}

/// A chunk found by a search, with its file's name.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct FoundChunk {
    pub id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    pub ordinal: i32,
    pub page: Option<i32>,
    pub section: Option<String>,
    pub text: String,
}

/// Which chunks a search reads (always among one person's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scope {
    All,
    File(Uuid),
    /// The files attached to a conversation.
    Conversation(Uuid),
}

impl Scope {
    /// The two optional parameters the queries filter by: (file, conversation).
    pub fn params(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Scope::All => (None, None),
            Scope::File(id) => (Some(id), None),
            Scope::Conversation(id) => (None, Some(id)),
        }
    }
}

/// How an upload ended in the database.
#[derive(Debug)]
pub enum Inserted {
    Stored(FileInfo),
    /// The person's files would pass their quota: (bytes used, quota).
    OverQuota {
        used: i64,
    },
}

/// An embedding as stored: float32, little-endian.
pub fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode_vector(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores a new file's row (and its bytes, when given) with a `file.uploaded` event, in one
    /// transaction, unless the owner's files would then pass `quota` bytes.
    async fn insert_file(
        &self,
        new: &NewFile<'_>,
        bytes: Option<&[u8]>,
        quota: i64,
    ) -> Result<Inserted, sqlx::Error>;

    /// The owner's files, newest first.
    async fn list_files(&self, owner_id: Uuid) -> Result<Vec<FileInfo>, sqlx::Error>;

    async fn get_file(&self, owner_id: Uuid, id: Uuid) -> Result<Option<StoredFile>, sqlx::Error>;

    /// The bytes of a file kept in the database.
    async fn file_bytes(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error>;

    /// Deletes a file with its bytes (in the database), chunks and vectors; returns what it was.
    async fn delete_file(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<StoredFile>, sqlx::Error>;

    /// Files left unfinished by a stopped instance (heartbeat before `stale_before`) or queued:
    /// the oldest is claimed for `instance` and marked extracting (or embedding when its chunks
    /// are stored).
    async fn claim_file(
        &self,
        instance: Uuid,
        stale_before: DateTime<Utc>,
    ) -> Result<Option<StoredFile>, sqlx::Error>;

    /// Refreshes the claim; false when the file is gone or another instance took it.
    async fn file_heartbeat(&self, id: Uuid, instance: Uuid) -> Result<bool, sqlx::Error>;

    /// Replaces the file's chunks with these, in one transaction; the file moves to embedding.
    async fn save_chunks(
        &self,
        id: Uuid,
        instance: Uuid,
        chunks: &[ChunkDraft],
        pages: Option<i32>,
        note: Option<&str>,
    ) -> Result<bool, sqlx::Error>;

    /// Chunks of a file without an embedding from `model`, in order.
    async fn chunks_to_embed(
        &self,
        file_id: Uuid,
        model: &str,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>, sqlx::Error>;

    /// Stores embeddings from `model` and counts them on the file.
    async fn save_embeddings(
        &self,
        file_id: Uuid,
        instance: Uuid,
        model: &str,
        vectors: &[(Uuid, Vec<u8>)],
    ) -> Result<bool, sqlx::Error>;

    /// Ends indexing: ready (with a `file.indexed` event) or failed with its reason.
    async fn finish_file(
        &self,
        id: Uuid,
        instance: Uuid,
        status: FileStatus,
        error: Option<&str>,
    ) -> Result<Option<FileInfo>, sqlx::Error>;

    /// Queues a finished (ready or failed) file to be indexed again; `None` when the owner has
    /// no such finished file.
    async fn requeue_file(&self, owner_id: Uuid, id: Uuid)
        -> Result<Option<FileInfo>, sqlx::Error>;

    /// Files embedded with another model than `model` go back to the queue (their chunks stay;
    /// only the embeddings are made again). Returns how many.
    async fn requeue_other_models(&self, model: &str) -> Result<u64, sqlx::Error>;

    /// Chunk ids by keyword relevance (best first) among the owner's chunks.
    async fn keyword_search(
        &self,
        owner_id: Uuid,
        words: &[String],
        scope: Scope,
        limit: i64,
    ) -> Result<Vec<Uuid>, sqlx::Error>;

    /// The owner's chunk embeddings from `model`.
    async fn chunk_vectors(
        &self,
        owner_id: Uuid,
        model: &str,
        scope: Scope,
    ) -> Result<Vec<(Uuid, Vec<u8>)>, sqlx::Error>;

    /// Attaches one of the owner's files to one of their conversations (true when attached,
    /// also if it already was).
    async fn attach_file(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        file_id: Uuid,
    ) -> Result<bool, sqlx::Error>;

    async fn detach_file(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        file_id: Uuid,
    ) -> Result<bool, sqlx::Error>;

    /// The files attached to a conversation, in the order they were attached.
    async fn conversation_files(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
    ) -> Result<Vec<FileInfo>, sqlx::Error>;

    /// What a conversation's answers are grounded in: its attached files and its assistant's
    /// knowledge, each once, oldest first.
    async fn knowledge_files(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
    ) -> Result<Vec<FileInfo>, sqlx::Error>;

    /// The files of an assistant's knowledge, oldest first.
    async fn assistant_files(
        &self,
        owner_id: Uuid,
        assistant_id: Uuid,
    ) -> Result<Vec<FileInfo>, sqlx::Error>;

    /// (assistant id, file id) for every file of every assistant of the owner's.
    async fn assistants_knowledge(&self, owner_id: Uuid) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error>;

    /// Makes `files` the whole knowledge of an assistant. False, with nothing changed, when the
    /// assistant or one of the files is not the owner's.
    async fn set_assistant_files(
        &self,
        owner_id: Uuid,
        assistant_id: Uuid,
        files: &[Uuid],
    ) -> Result<bool, sqlx::Error>;

    /// Records the passages an answer was given.
    async fn set_sources(
        &self,
        owner_id: Uuid,
        message_id: Uuid,
        sources: &crate::model::Sources,
    ) -> Result<bool, sqlx::Error>;

    /// These chunks of the owner's, with their file's name (in no particular order).
    async fn chunks_by_ids(
        &self,
        owner_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<FoundChunk>, sqlx::Error>;
}

/// Implements [`DocumentStore`] for a backend; `$lock` is what the backend adds to the claim
/// of pending work so that two instances never claim the same row, and `$own` holds its
/// `keyword_search`.
macro_rules! portable_documents {
    ($backend:ty, lock = $lock:literal { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::db::documents::DocumentStore for $backend {
            $($own)*

            async fn claim_file(
                &self,
                instance: Uuid,
                stale_before: DateTime<Utc>,
            ) -> Result<Option<StoredFile>, sqlx::Error> {
                let sql = format!(
                    "UPDATE files SET instance_id = $1, heartbeat_at = $2, updated_at = $2, \
                     status = CASE WHEN extracted THEN 'embedding' ELSE 'extracting' END \
                     WHERE id = (SELECT id FROM files WHERE status IN ('queued', 'extracting', 'embedding') \
                     AND (status = 'queued' OR heartbeat_at IS NULL OR heartbeat_at < $3) ORDER BY created_at LIMIT 1 {}) \
                     RETURNING {FILE_COLUMNS}, stored_in, extracted",
                    $lock
                );
                sqlx::query_as::<_, StoredFile>(&sql)
                    .bind(instance).bind(now()).bind(stale_before)
                    .fetch_optional(&self.pool).await
            }

            async fn insert_file(
                &self,
                new: &NewFile<'_>,
                bytes: Option<&[u8]>,
                quota: i64,
            ) -> Result<Inserted, sqlx::Error> {
                let at = now();
                // The write comes first: on SQLite a transaction that reads, then writes, fails
                // with "database is locked" when another upload wrote in between.
                let mut tx = self.pool.begin_write().await?;
                let sql = format!(
                    "INSERT INTO files (id, owner_id, name, kind, media_type, size_bytes, stored_in, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8, $8) RETURNING {FILE_COLUMNS}"
                );
                // An image has no text to index: it is ready as it is.
                let status = if new.kind.is_image() { FileStatus::Ready } else { FileStatus::Queued };
                let info = sqlx::query_as::<_, FileInfo>(&sql)
                    .bind(new.id).bind(new.owner_id).bind(storable(new.name)).bind(new.kind.as_str())
                    .bind(new.kind.media_type()).bind(new.size_bytes).bind(new.stored_in).bind(at)
                    .bind(status.as_str())
                    .fetch_one(&mut *tx).await?;
                let used: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM files WHERE owner_id = $1")
                    .bind(new.owner_id).fetch_one(&mut *tx).await?;
                if used > quota {
                    // Rolled back when `tx` is dropped.
                    return Ok(Inserted::OverQuota { used: used - new.size_bytes });
                }
                if let Some(bytes) = bytes {
                    sqlx::query("INSERT INTO file_blobs (file_id, bytes) VALUES ($1, $2)")
                        .bind(new.id).bind(bytes).execute(&mut *tx).await?;
                }
                let payload = serde_json::json!({
                    "file_id": info.id, "name": info.name, "kind": info.kind, "size_bytes": info.size_bytes,
                }).to_string();
                insert_outbox_in!(tx, new.owner_id, $crate::db::documents::OUTBOX_FILE_UPLOADED, info.id, payload, at)?;
                commit_announced!(self, tx)?;
                Ok(Inserted::Stored(info))
            }

            async fn list_files(&self, owner_id: Uuid) -> Result<Vec<FileInfo>, sqlx::Error> {
                let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE owner_id = $1 ORDER BY created_at DESC, id DESC");
                sqlx::query_as::<_, FileInfo>(&sql).bind(owner_id).fetch_all(&self.pool).await
            }

            async fn get_file(&self, owner_id: Uuid, id: Uuid) -> Result<Option<StoredFile>, sqlx::Error> {
                let sql = format!("SELECT {FILE_COLUMNS}, stored_in, extracted FROM files WHERE id = $1 AND owner_id = $2");
                sqlx::query_as::<_, StoredFile>(&sql).bind(id).bind(owner_id).fetch_optional(&self.pool).await
            }

            async fn file_bytes(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
                sqlx::query_scalar(
                    "SELECT b.bytes FROM file_blobs b JOIN files f ON f.id = b.file_id WHERE b.file_id = $1 AND f.owner_id = $2")
                    .bind(id).bind(owner_id).fetch_optional(&self.pool).await
            }

            async fn delete_file(&self, owner_id: Uuid, id: Uuid) -> Result<Option<StoredFile>, sqlx::Error> {
                // Bytes, chunks (and their keyword index) and attachments go with the row.
                let sql = format!("DELETE FROM files WHERE id = $1 AND owner_id = $2 RETURNING {FILE_COLUMNS}, stored_in, extracted");
                sqlx::query_as::<_, StoredFile>(&sql).bind(id).bind(owner_id).fetch_optional(&self.pool).await
            }

            async fn file_heartbeat(&self, id: Uuid, instance: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query("UPDATE files SET heartbeat_at = $1 WHERE id = $2 AND instance_id = $3 AND status IN ('extracting', 'embedding')")
                    .bind(now()).bind(id).bind(instance)
                    .execute(&self.pool).await.map(|r| r.rows_affected() == 1)
            }

            async fn save_chunks(
                &self,
                id: Uuid,
                instance: Uuid,
                chunks: &[ChunkDraft],
                pages: Option<i32>,
                note: Option<&str>,
            ) -> Result<bool, sqlx::Error> {
                let at = now();
                let mut tx = self.pool.begin_write().await?;
                let owner: Option<Uuid> = sqlx::query_scalar(
                    "UPDATE files SET status = 'embedding', extracted = $1, pages = $2, chunk_count = $3, embedded_count = 0, \
                     error = $4, heartbeat_at = $5, updated_at = $5 WHERE id = $6 AND instance_id = $7 AND status = 'extracting' RETURNING owner_id")
                    .bind(true).bind(pages).bind(chunks.len() as i32).bind(note.map(storable)).bind(at).bind(id).bind(instance)
                    .fetch_optional(&mut *tx).await?;
                let Some(owner) = owner else {
                    return Ok(false);
                };
                sqlx::query("DELETE FROM chunks WHERE file_id = $1").bind(id).execute(&mut *tx).await?;
                for chunk in chunks {
                    sqlx::query(
                        "INSERT INTO chunks (id, file_id, owner_id, ordinal, page, section, text) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(Uuid::now_v7()).bind(id).bind(owner).bind(chunk.ordinal).bind(chunk.page)
                        .bind(chunk.section.as_deref().map(storable)).bind(storable(&chunk.text))
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn chunks_to_embed(&self, file_id: Uuid, model: &str, limit: i64) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT id, text FROM chunks WHERE file_id = $1 AND (embedding IS NULL OR embedding_model IS NULL OR embedding_model <> $2) \
                     ORDER BY ordinal LIMIT $3")
                    .bind(file_id).bind(model).bind(limit).fetch_all(&self.pool).await
            }

            async fn save_embeddings(
                &self,
                file_id: Uuid,
                instance: Uuid,
                model: &str,
                vectors: &[(Uuid, Vec<u8>)],
            ) -> Result<bool, sqlx::Error> {
                let at = now();
                let mut tx = self.pool.begin_write().await?;
                let claimed = sqlx::query(
                    "UPDATE files SET heartbeat_at = $1, updated_at = $1, embedding_model = $2 WHERE id = $3 AND instance_id = $4 AND status = 'embedding'")
                    .bind(at).bind(model).bind(file_id).bind(instance).execute(&mut *tx).await?.rows_affected() == 1;
                if !claimed {
                    return Ok(false);
                }
                for (chunk_id, vector) in vectors {
                    sqlx::query("UPDATE chunks SET embedding = $1, embedding_model = $2 WHERE id = $3 AND file_id = $4")
                        .bind(vector).bind(model).bind(chunk_id).bind(file_id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "UPDATE files SET embedded_count = (SELECT COUNT(*) FROM chunks WHERE file_id = $1 AND embedding_model = $2) WHERE id = $1")
                    .bind(file_id).bind(model).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn finish_file(
                &self,
                id: Uuid,
                instance: Uuid,
                status: FileStatus,
                error: Option<&str>,
            ) -> Result<Option<FileInfo>, sqlx::Error> {
                let at = now();
                let mut tx = self.pool.begin_write().await?;
                let sql = format!(
                    "UPDATE files SET status = $1, error = COALESCE($2, error), instance_id = NULL, heartbeat_at = NULL, updated_at = $3 \
                     WHERE id = $4 AND instance_id = $5 AND status IN ('extracting', 'embedding') RETURNING {FILE_COLUMNS}"
                );
                let info = sqlx::query_as::<_, FileInfo>(&sql)
                    .bind(status.as_str()).bind(error.map(storable)).bind(at).bind(id).bind(instance)
                    .fetch_optional(&mut *tx).await?;
                if let Some(info) = &info {
                    let payload = serde_json::json!({
                        "file_id": info.id, "name": info.name, "status": info.status, "error": info.error,
                        "chunks": info.chunk_count, "embedding_model": info.embedding_model,
                    }).to_string();
                    insert_outbox_in!(tx, info.owner_id, $crate::db::documents::OUTBOX_FILE_INDEXED, info.id, payload, at)?;
                }
                commit_announced!(self, tx)?;
                Ok(info)
            }

            async fn requeue_file(&self, owner_id: Uuid, id: Uuid) -> Result<Option<FileInfo>, sqlx::Error> {
                let sql = format!(
                    "UPDATE files SET status = 'queued', error = NULL, updated_at = $1 WHERE id = $2 AND owner_id = $3 \
                     AND status IN ('ready', 'failed') RETURNING {FILE_COLUMNS}"
                );
                sqlx::query_as::<_, FileInfo>(&sql).bind(now()).bind(id).bind(owner_id).fetch_optional(&self.pool).await
            }

            async fn requeue_other_models(&self, model: &str) -> Result<u64, sqlx::Error> {
                sqlx::query(
                    "UPDATE files SET status = 'queued', updated_at = $1 WHERE status = 'ready' AND chunk_count > 0 \
                     AND (embedding_model IS NULL OR embedding_model <> $2)")
                    .bind(now()).bind(model).execute(&self.pool).await.map(|r| r.rows_affected())
            }

            async fn chunk_vectors(
                &self,
                owner_id: Uuid,
                model: &str,
                scope: Scope,
            ) -> Result<Vec<(Uuid, Vec<u8>)>, sqlx::Error> {
                let (file, conversation) = scope.params();
                sqlx::query_as(
                    "SELECT id, embedding FROM chunks WHERE owner_id = $1 AND embedding_model = $2 AND embedding IS NOT NULL \
                     AND ($3 IS NULL OR file_id = $3) \
                     AND ($4 IS NULL OR file_id IN (SELECT file_id FROM conversation_knowledge WHERE conversation_id = $4 AND owner_id = $1))")
                    .bind(owner_id).bind(model).bind(file).bind(conversation).fetch_all(&self.pool).await
            }

            async fn attach_file(&self, owner_id: Uuid, conversation_id: Uuid, file_id: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query(
                    "INSERT INTO conversation_files (conversation_id, file_id, owner_id, created_at) SELECT $1, $2, $3, $4 \
                     WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND owner_id = $3) \
                     AND EXISTS (SELECT 1 FROM files WHERE id = $2 AND owner_id = $3) \
                     ON CONFLICT (conversation_id, file_id) DO NOTHING")
                    .bind(conversation_id).bind(file_id).bind(owner_id).bind(now())
                    .execute(&self.pool).await?;
                let attached: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM conversation_files WHERE conversation_id = $1 AND file_id = $2 AND owner_id = $3")
                    .bind(conversation_id).bind(file_id).bind(owner_id).fetch_one(&self.pool).await?;
                Ok(attached == 1)
            }

            async fn detach_file(&self, owner_id: Uuid, conversation_id: Uuid, file_id: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query("DELETE FROM conversation_files WHERE conversation_id = $1 AND file_id = $2 AND owner_id = $3")
                    .bind(conversation_id).bind(file_id).bind(owner_id)
                    .execute(&self.pool).await.map(|r| r.rows_affected() == 1)
            }

            async fn conversation_files(&self, owner_id: Uuid, conversation_id: Uuid) -> Result<Vec<FileInfo>, sqlx::Error> {
                let sql = linked_files_sql("conversation_files", "conversation_id", "k.created_at, f.id");
                sqlx::query_as::<_, FileInfo>(&sql).bind(conversation_id).bind(owner_id).fetch_all(&self.pool).await
            }

            async fn knowledge_files(&self, owner_id: Uuid, conversation_id: Uuid) -> Result<Vec<FileInfo>, sqlx::Error> {
                let sql = linked_files_sql("conversation_knowledge", "conversation_id", "f.created_at, f.id");
                sqlx::query_as::<_, FileInfo>(&sql).bind(conversation_id).bind(owner_id).fetch_all(&self.pool).await
            }

            async fn assistant_files(&self, owner_id: Uuid, assistant_id: Uuid) -> Result<Vec<FileInfo>, sqlx::Error> {
                let sql = linked_files_sql("assistant_files", "assistant_id", "k.created_at, f.created_at, f.id");
                sqlx::query_as::<_, FileInfo>(&sql).bind(assistant_id).bind(owner_id).fetch_all(&self.pool).await
            }

            async fn assistants_knowledge(&self, owner_id: Uuid) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT k.assistant_id, k.file_id FROM assistant_files k JOIN files f ON f.id = k.file_id \
                     WHERE k.owner_id = $1 ORDER BY k.created_at, f.created_at, f.id")
                    .bind(owner_id).fetch_all(&self.pool).await
            }

            async fn set_assistant_files(&self, owner_id: Uuid, assistant_id: Uuid, files: &[Uuid]) -> Result<bool, sqlx::Error> {
                let mut unique: Vec<Uuid> = Vec::with_capacity(files.len());
                for file in files {
                    if !unique.contains(file) {
                        unique.push(*file);
                    }
                }
                let mut tx = self.pool.begin_write().await?;
                let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assistants WHERE id = $1 AND owner_id = $2")
                    .bind(assistant_id).bind(owner_id).fetch_one(&mut *tx).await?;
                if owned == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM assistant_files WHERE assistant_id = $1 AND owner_id = $2")
                    .bind(assistant_id).bind(owner_id).execute(&mut *tx).await?;
                // Later files a little later, so that the knowledge keeps the order it was given.
                let start = now();
                for (index, file) in unique.iter().enumerate() {
                    let at = start + chrono::Duration::microseconds(index as i64);
                    let inserted = sqlx::query(
                        "INSERT INTO assistant_files (assistant_id, file_id, owner_id, created_at) \
                         SELECT $1, id, owner_id, $2 FROM files WHERE id = $3 AND owner_id = $4")
                        .bind(assistant_id).bind(at).bind(file).bind(owner_id)
                        .execute(&mut *tx).await?.rows_affected();
                    if inserted == 0 {
                        // Dropping the transaction rolls it back.
                        return Ok(false);
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn set_sources(&self, owner_id: Uuid, message_id: Uuid, sources: &crate::model::Sources) -> Result<bool, sqlx::Error> {
                sqlx::query("UPDATE messages SET sources = $1 WHERE id = $2 AND owner_id = $3")
                    .bind(sources.to_column().as_deref().map(storable)).bind(message_id).bind(owner_id)
                    .execute(&self.pool).await.map(|r| r.rows_affected() == 1)
            }

            async fn chunks_by_ids(&self, owner_id: Uuid, ids: &[Uuid]) -> Result<Vec<FoundChunk>, sqlx::Error> {
                let mut found = Vec::with_capacity(ids.len());
                // A handful of ids per search: one indexed lookup each, the same text on both
                // databases.
                for id in ids {
                    if let Some(chunk) = sqlx::query_as::<_, FoundChunk>(
                        "SELECT c.id, c.file_id, f.name AS file_name, c.ordinal, c.page, c.section, c.text \
                         FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = $1 AND c.owner_id = $2")
                        .bind(id).bind(owner_id).fetch_optional(&self.pool).await? {
                        found.push(chunk);
                    }
                }
                Ok(found)
            }
        }
    };
}
pub(super) use portable_documents;
