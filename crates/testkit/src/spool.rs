//! Spool directories in which peers store what they received, one JSON file per item.

use std::fs;
use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;

/// Reads every `*.json` file in `directory`, in the order of their names.
///
/// Peers name the files so that this order is the order of arrival, and write each one
/// under a name ending in `.tmp` first, so a file still being written is skipped.
pub(crate) fn read_spool<T: DeserializeOwned>(directory: &Path) -> io::Result<Vec<T>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(directory)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            paths.push(path);
        }
    }
    paths.sort();

    let mut items = Vec::with_capacity(paths.len());
    for path in paths {
        let text = fs::read_to_string(&path)?;
        let item = serde_json::from_str(&text).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("invalid spool file {}: {error}", path.display()),
            )
        })?;
        items.push(item);
    }
    Ok(items)
}
