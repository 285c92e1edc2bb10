//! A database folder: named durable collections under `<root>/collections/<name>/`.
//!
//! The folder is the only shared state: a `Database` caches nothing, so several processes may
//! list the same folder while each collection still has at most one writer (its `LOCK`).
//! Bindings that want one handle per collection keep it themselves.

use std::path::{Path, PathBuf};

use crate::config::{validate_collection_name, CollectionConfig};
use crate::durable::{DurableCollection, DurableOptions};
use crate::error::{Error, Result};
use crate::snapshot::Snapshot;

const COLLECTIONS: &str = "collections";

/// A folder of named collections.
#[derive(Debug, Clone)]
pub struct Database {
    root: PathBuf,
    options: DurableOptions,
}

impl Database {
    /// Opens the database in `root`, creating the folder if it does not exist.
    pub fn open(root: &Path, options: DurableOptions) -> Result<Database> {
        let dir = root.join(COLLECTIONS);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Database {
            root: root.to_owned(),
            options,
        })
    }

    /// The database folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> Result<PathBuf> {
        validate_collection_name(name)?;
        Ok(self.root.join(COLLECTIONS).join(name))
    }

    /// Creates a collection; `Conflict` if one of that name exists.
    pub fn create_collection(
        &self,
        name: &str,
        config: CollectionConfig,
    ) -> Result<DurableCollection> {
        let dir = self.dir(name)?;
        DurableCollection::create(&dir, config, self.options).map_err(|e| match e {
            Error::Conflict(_) if dir.join("MANIFEST").exists() => {
                Error::Conflict(format!("collection {name:?} already exists"))
            }
            other => other,
        })
    }

    /// Opens a collection for reading and writing; `NotFound` if there is none of that name.
    pub fn open_collection(&self, name: &str) -> Result<DurableCollection> {
        let dir = self.dir(name)?;
        if !dir.join("MANIFEST").exists() {
            return Err(Error::NotFound(format!(
                "collection {name:?} does not exist"
            )));
        }
        DurableCollection::open(&dir, self.options)
    }

    /// The names of the collections, sorted.
    pub fn list_collections(&self) -> Result<Vec<String>> {
        let dir = self.root.join(COLLECTIONS);
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join("MANIFEST").exists())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| validate_collection_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes a collection and its files; `Conflict` while it is open for writing.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        let dir = self.dir(name)?;
        if !dir.join("MANIFEST").exists() {
            return Err(Error::NotFound(format!(
                "collection {name:?} does not exist"
            )));
        }
        // Taking the writer lock proves nobody is writing; the rename makes the collection
        // disappear at once, before its files are removed.
        let handle = DurableCollection::open(&dir, self.options)?;
        let doomed = self
            .root
            .join(COLLECTIONS)
            .join(format!(".dropped-{name}-{}", std::process::id()));
        std::fs::rename(&dir, &doomed)
            .map_err(|e| Error::io(format!("removing collection {name:?}"), e))?;
        drop(handle);
        std::fs::remove_dir_all(&doomed)
            .map_err(|e| Error::io(format!("removing {}", doomed.display()), e))
    }

    /// Creates collection `name` holding exactly the points of `snapshot`.
    pub fn restore_collection(&self, name: &str, snapshot: &Snapshot) -> Result<DurableCollection> {
        let dir = self.dir(name)?;
        if dir.join("MANIFEST").exists() {
            return Err(Error::Conflict(format!(
                "collection {name:?} already exists; drop it first or restore under another name"
            )));
        }
        DurableCollection::restore(&dir, snapshot, self.options)
    }
}
