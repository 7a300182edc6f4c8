//! The store's files on disk: created private (0600), or for a team
//! (0660 in a setgid directory) before SQLite makes them.

use std::path::Path;

use crate::error::{Error, Result};

/// Creates a missing store or index file before SQLite does, so that it
/// is not readable by every local user: 0600, or 0660 in a team directory
/// (setgid and group-writable, as `echodesk init --group` makes it).
/// SQLite gives its -wal and -shm files the mode of the database file.
/// An existing file keeps its mode.
pub fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mode = file_mode_for(path);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(_) => {
            // The umask may have taken the group's write bit.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(path, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// 0660 in a setgid, group-writable directory (a team's), else 0600.
pub fn file_mode_for(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.mode() & 0o2000 != 0 && m.mode() & 0o070 == 0o070 => 0o660,
        _ => 0o600,
    }
}
