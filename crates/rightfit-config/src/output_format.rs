//! Output constraints given as files (`chat` and `complete`'s `--json-schema` and `--grammar`),
//! read into the request's [`ResponseFormat`].

use std::path::{Path, PathBuf};

use rightfit_types::ResponseFormat;

/// Why a constraint file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatFileError {
    /// The file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A JSON Schema file that is not JSON.
    #[error("{}: not valid JSON", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
}

/// JSON matching the schema in `json_schema`, else text matching the GBNF grammar in `grammar`
/// (start rule `root`), else free text.
pub fn response_format(
    json_schema: Option<&Path>,
    grammar: Option<&Path>,
) -> Result<ResponseFormat, FormatFileError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| FormatFileError::Read {
            path: path.to_owned(),
            source,
        })
    };
    if let Some(path) = json_schema {
        let schema =
            serde_json::from_str(&read(path)?).map_err(|source| FormatFileError::Json {
                path: path.to_owned(),
                source,
            })?;
        return Ok(ResponseFormat::JsonSchema {
            name: "output".into(),
            schema,
            strict: true,
        });
    }
    match grammar {
        Some(path) => Ok(ResponseFormat::Grammar { gbnf: read(path)? }),
        None => Ok(ResponseFormat::Text),
    }
}
