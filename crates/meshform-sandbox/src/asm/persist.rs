//! The emulator's state file: the whole [`AsmModel`] as JSON, written atomically
//! ([`meshform_core::fsio::write_atomic`]) after every change and read at start. Transition deadlines are
//! wall-clock times, so a transition in flight when the emulator stopped completes after a restart.

use std::fs;
use std::path::Path;

use meshform_core::fsio;

use serde::{Deserialize, Serialize};

use super::errors::AsmError;
use super::model::AsmModel;

/// The format version of the state file.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: u32,
    #[serde(flatten)]
    model: AsmModel,
}

/// Reads the state file; a missing file is an empty model.
pub(crate) fn load(path: &Path) -> Result<AsmModel, AsmError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AsmModel::default()),
        Err(e) => return Err(AsmError::io(format!("reading {}", path.display()), e)),
    };
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| AsmError::StateFile { path: path.to_owned(), message: e.to_string() })?;
    if file.format != FORMAT {
        return Err(AsmError::StateFile {
            path: path.to_owned(),
            message: format!("format {} is not the supported format {FORMAT}", file.format),
        });
    }
    Ok(file.model)
}

/// Writes the state file atomically.
pub(crate) fn save(path: &Path, model: &AsmModel) -> Result<(), AsmError> {
    let file = StateFile { format: FORMAT, model: model.clone() };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| AsmError::io("serializing the state", std::io::Error::other(e)))?;
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(fsio::parent_dir(path))?;
        fsio::write_atomic(path, text.as_bytes(), None)
    };
    write().map_err(|e| AsmError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("asm.json");
        assert_eq!(load(&path).unwrap(), AsmModel::default());
        let model = AsmModel { revision: 7, ..AsmModel::default() };
        save(&path, &model).unwrap();
        assert_eq!(load(&path).unwrap(), model);
        let names: Vec<_> =
            fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("asm.json")], "no temporary file is left");
        fs::write(&path, "{").unwrap();
        assert!(matches!(load(&path), Err(AsmError::StateFile { .. })));
    }
}
