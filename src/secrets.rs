//! Secrets the database keeps (model providers' API keys, webhooks' signing secrets) are sealed
//! with XChaCha20-Poly1305 under the instance's secret key, so that a copy of the database (a
//! backup, a dump, a stolen disk image of the database server) does not give them away.
//!
//! The key comes from `security.secret_key` (`OLLAMASTACK_SECRET_KEY`); when that is unset, a
//! random key is made once in `<data_dir>/secret.key`, readable by its owner only, so the
//! default setup needs nothing. Each sealed value is bound to what it is for (`webhook:<id>`):
//! a value copied into another row does not open. A check value sealed at the first start tells
//! every later start whether its key is the one that sealed this database's secrets, so that an
//! instance with another key refuses to start instead of failing each call.

use crate::db::SharedStore;
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use std::path::{Path, PathBuf};

/// What a sealed value starts with; what does not is a value stored before sealing existed.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// The shortest `security.secret_key` accepted: 32 characters (of a random string).
pub const MIN_KEY_CHARS: usize = 32;

const NONCE_BYTES: usize = 24;
const KEY_CHECK_PURPOSE: &str = "key-check";
const KEY_CHECK_TEXT: &str = "ollamastack";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Wrong key, another row's value, or a changed value: all look the same, on purpose.
    #[error("a stored secret cannot be opened: it was sealed with another secret key, or changed")]
    Open,
    #[error("a stored secret is malformed")]
    Malformed,
    #[error("cannot read or create the secret key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the secret key file {0} does not hold a key (64 hex digits)")]
    BadKeyFile(String),
    #[error("security.secret_key must be at least {MIN_KEY_CHARS} characters")]
    WeakKey,
    #[error(
        "the secrets in this database were sealed with another secret key: give every instance \
         the same security.secret_key (OLLAMASTACK_SECRET_KEY), or the key file that sealed them"
    )]
    WrongKey,
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// Seals and opens the database's secrets with the instance's key.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// A box whose key is derived from `material` (a configured secret or the key file's bytes).
    pub fn from_material(material: &[u8]) -> SecretBox {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        hash.update(b"ollamastack secrets v1\0");
        hash.update(material);
        let key: [u8; 32] = hash.finalize().into();
        SecretBox {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// The configured key, else the key file in `data_dir` (made with a random key if missing).
    pub async fn load(configured: Option<&str>, data_dir: &Path) -> Result<SecretBox, SecretError> {
        if let Some(key) = configured {
            if key.trim().chars().count() < MIN_KEY_CHARS {
                return Err(SecretError::WeakKey);
            }
            return Ok(SecretBox::from_material(key.trim().as_bytes()));
        }
        let path = data_dir.join("secret.key");
        let material = tokio::task::spawn_blocking(move || read_or_create_key_file(&path))
            .await
            .map_err(|e| SecretError::KeyFile {
                path: data_dir.join("secret.key").display().to_string(),
                source: std::io::Error::other(e),
            })??;
        Ok(SecretBox::from_material(&material))
    }

    /// `plaintext` sealed for `purpose` (what it is, and which row): `sealed:v1:<base64>`.
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        use base64::Engine;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random generator");
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
        )
    }

    /// What `seal(purpose, …)` sealed. A value without the prefix is refused: callers that
    /// may meet values stored before sealing existed use `open_or_legacy`.
    pub fn open(&self, purpose: &str, stored: &str) -> Result<String, SecretError> {
        use base64::Engine;
        let encoded = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }

    /// `open`, except that a value stored in plain text before sealing existed is returned as
    /// it is (the start seals such values; this covers one written by an older instance since).
    pub fn open_or_legacy(&self, purpose: &str, stored: &str) -> Result<String, SecretError> {
        if is_sealed(stored) {
            self.open(purpose, stored)
        } else {
            Ok(stored.to_string())
        }
    }

    /// Checks that this key opens the database's check value, sealing one at the first start.
    pub async fn verify_against(&self, store: &SharedStore) -> Result<(), SecretError> {
        let stored = match store.key_check().await? {
            Some(stored) => stored,
            None => {
                // Instances starting together race here; the first insert wins and all read it.
                store
                    .insert_key_check(&self.seal(KEY_CHECK_PURPOSE, KEY_CHECK_TEXT))
                    .await?;
                store.key_check().await?.ok_or(SecretError::WrongKey)?
            }
        };
        match self.open(KEY_CHECK_PURPOSE, &stored) {
            Ok(text) if text == KEY_CHECK_TEXT => Ok(()),
            _ => Err(SecretError::WrongKey),
        }
    }
}

/// Whether a stored value is sealed (else it was stored before sealing existed).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

fn read_or_create_key_file(path: &PathBuf) -> Result<Vec<u8>, SecretError> {
    use std::io::Write;
    let file_error = |source| SecretError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = hex::decode(text.trim())
                .map_err(|_| SecretError::BadKeyFile(path.display().to_string()))?;
            if key.len() != 32 {
                return Err(SecretError::BadKeyFile(path.display().to_string()));
            }
            return Ok(key);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(file_error(error)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system's random generator");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex::encode(key).as_bytes())
                .and_then(|_| file.write_all(b"\n"))
                .and_then(|_| file.sync_all())
                .map_err(file_error)?;
            Ok(key.to_vec())
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read_or_create_key_file(path)
        }
        Err(error) => Err(file_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_purpose() {
        let sealed_box = SecretBox::from_material(b"a key of at least thirty-two characters");
        let sealed = sealed_box.seal("provider:1", "sk-live-123");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("sk-live-123"));
        assert_eq!(
            sealed_box.open("provider:1", &sealed).unwrap(),
            "sk-live-123"
        );
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, sealed_box.seal("provider:1", "sk-live-123"));
        assert!(matches!(
            sealed_box.open("provider:2", &sealed),
            Err(SecretError::Open)
        ));
        let other = SecretBox::from_material(b"another key of at least thirty-two chars");
        assert!(matches!(
            other.open("provider:1", &sealed),
            Err(SecretError::Open)
        ));
        let mut changed = sealed.clone();
        changed.pop();
        changed.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealed_box.open("provider:1", &changed).is_err());
        assert!(matches!(
            sealed_box.open("provider:1", "sk-plain"),
            Err(SecretError::Malformed)
        ));
        assert_eq!(
            sealed_box.open_or_legacy("provider:1", "sk-plain").unwrap(),
            "sk-plain"
        );
    }

    #[tokio::test]
    async fn the_key_file_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(None, dir.path()).await.unwrap();
        let sealed = first.seal("p", "v");
        let second = SecretBox::load(None, dir.path()).await.unwrap();
        assert_eq!(second.open("p", &sealed).unwrap(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only its owner may read the key file");
        }
        assert!(matches!(
            SecretBox::load(Some("short"), dir.path()).await,
            Err(SecretError::WeakKey)
        ));
        std::fs::write(dir.path().join("secret.key"), "not hex").unwrap();
        assert!(matches!(
            SecretBox::load(None, dir.path()).await,
            Err(SecretError::BadKeyFile(_))
        ));
    }
}
