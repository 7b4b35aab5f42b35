//! The server's secret key: 32 bytes, given in the configuration or kept in a file (mode 0600)
//! that is generated on first start, beside the SQLite database or in `data/`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigError, invalid};

/// 32 bytes that encrypt OAuth1 secrets at rest and key CSRF tokens. Never printed.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

impl SecretKey {
    pub(super) fn from_hex(key: &'static str, hex_str: &str) -> Result<Self, ConfigError> {
        let bytes = hex::decode(hex_str.trim())
            .map_err(|_| invalid(key, "must be 64 hexadecimal characters (32 bytes)"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid(key, "must be 64 hexadecimal characters (32 bytes)"))?;
        Ok(Self(bytes))
    }
}

/// Where the secret key comes from.
#[derive(Debug, Clone)]
pub enum SecretKeySource {
    Given(SecretKey),
    /// Read from this file, generated there (mode 0600) on first start.
    File(PathBuf),
}

/// The key file lives beside the SQLite database; for PostgreSQL, in `data/`.
pub(super) fn default_key_file(database_url: &str) -> PathBuf {
    let sqlite_path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p));
    match sqlite_path {
        Some(path) if path != ":memory:" && !path.is_empty() => Path::new(path)
            .parent()
            .map(|dir| dir.join("secret.key"))
            .unwrap_or_else(|| PathBuf::from("secret.key")),
        _ => PathBuf::from("data/secret.key"),
    }
}

pub(super) fn load_or_create_key(
    path: &Path,
    random: &dyn crate::domain::random::Random,
) -> Result<SecretKey, ConfigError> {
    let io = |source| ConfigError::SecretKeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => SecretKey::from_hex("secret_key_file", &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let key: [u8; 32] = crate::domain::random::bytes(random);
            write_private(path, hex::encode(key).as_bytes()).map_err(io)?;
            tracing::warn!(
                path = %path.display(),
                "generated a new secret key and wrote it to this file (mode 0600): back it up, \
                 and give every instance the same key"
            );
            Ok(SecretKey(key))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
