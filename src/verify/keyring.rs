//! The operator's keyring: the only keys a verifier trusts (spec §7, §12).
//!
//! A directory of key documents (`*.pub.json`) and the key statements beside them
//! (`*.transition.json`, `*.revocation.json`), each statement verified before it changes a
//! key's window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::format::canon;
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::trust::keys::{KeyDocProblem, KeyDocument, TrustedKey};
use crate::trust::policy::Authorized;
use crate::trust::signer::{SignError, Signer};

/// Failure to load a keyring: names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The directory cannot be read.
    #[error("cannot read keyring directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file is not canonical-JSON input.
    #[error("key document {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: canon::CanonError,
    },
    /// A key file is not a valid key document.
    #[error("key document {}: {}", path.display(), problems.iter().map(|p| format!("{}: expected {}, found {}", p.path, p.expected, p.found)).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problems: Vec<KeyDocProblem>,
    },
    /// Two files hold the same key id for different keys, or the same key twice.
    #[error("keyring {}: {what}", path.display())]
    Conflict {
        /// The file that conflicts.
        path: PathBuf,
        /// What conflicts.
        what: String,
    },
    /// The directory holds no key document.
    #[error("keyring {} holds no key document (*.pub.json)", path.display())]
    Empty {
        /// The directory.
        path: PathBuf,
    },
    /// A keyring file is not a small regular file.
    #[error(transparent)]
    File(#[from] crate::io::IoError),
    /// A statement in the keyring does not verify.
    #[error("keyring statement {}: {what}", path.display())]
    Statement {
        /// The statement file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// The operator's keyring: trusted keys by fingerprint.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<String, TrustedKey>,
    /// key id -> fingerprint, so that loading and lookups by id stay linear.
    ids: std::collections::HashMap<String, String>,
    /// The verified statements: (file, `statement_sha256`, what each says).
    statements: Vec<(PathBuf, String, crate::trust::statements::Statement)>,
    /// Keys replaced by a forced re-generation, for transcript history only.
    retired: Vec<TrustedKey>,
    /// Verified key transitions: (old fingerprint, new fingerprint).
    transitions: Vec<(String, String)>,
    /// The transparency-log entry of each verified statement: (`statement_sha256`, entry).
    log_entries: Vec<(String, Vec<u8>)>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a trusted key document.
    pub fn insert(&mut self, doc: KeyDocument, file: PathBuf) -> Result<(), KeyringError> {
        if let Some(other) = self
            .ids
            .get(&doc.key_id)
            .and_then(|fp| self.keys.get(fp))
            .filter(|k| k.doc.key.raw() != doc.key.raw())
        {
            return Err(KeyringError::Conflict {
                path: file,
                what: format!(
                    "key id {:?} is already used by another key in {}",
                    doc.key_id,
                    other.file.display()
                ),
            });
        }
        if let Some(other) = self.keys.get(doc.key.fingerprint()) {
            return Err(KeyringError::Conflict {
                path: file,
                what: format!("the same key is already in {}", other.file.display()),
            });
        }
        self.ids
            .insert(doc.key_id.clone(), doc.key.fingerprint().to_owned());
        self.keys.insert(
            doc.key.fingerprint().to_owned(),
            TrustedKey {
                doc,
                revoked: None,
                file,
            },
        );
        Ok(())
    }
    /// Load every `*.pub.json` in a directory; any unreadable or malformed file is an error.
    pub fn load(dir: &Path) -> Result<Self, KeyringError> {
        let mut ring = Keyring::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| KeyringError::Dir {
                path: dir.into(),
                source,
            })?
            .map(|e| {
                e.map(|e| e.path()).map_err(|source| KeyringError::Dir {
                    path: dir.into(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        files.sort();
        for path in files
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".pub.json"))
        {
            ring.insert(read_document(path)?, path.clone())?;
        }
        if ring.keys.is_empty() {
            return Err(KeyringError::Empty { path: dir.into() });
        }
        ring.apply_statements(&files)?;
        ring.load_retired(&dir.join("retired"))?;
        Ok(ring)
    }

    /// Keys replaced by a forced re-generation (`retired/*.pub.json`): never trusted to
    /// sign anything, kept so that the transcript entries they signed still verify.
    fn load_retired(&mut self, dir: &Path) -> Result<(), KeyringError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".pub.json"))
        {
            self.retired.push(TrustedKey {
                doc: read_document(path)?,
                revoked: None,
                file: path.clone(),
            });
        }
        Ok(())
    }

    /// This keyring with its retired keys added, for checking a transcript's history
    /// only: never for verifying artifacts or for signing.
    pub(crate) fn with_retired(&self) -> Keyring {
        let mut r = self.clone();
        for k in &self.retired {
            r.keys
                .entry(k.doc.key.fingerprint().to_owned())
                .or_insert_with(|| k.clone());
        }
        r
    }
    /// Verify and apply the key statements among `files` (`*.transition.json`,
    /// `*.revocation.json`): each must verify against the key documents, and no signer may
    /// have been revoked before it signed. Any statement that does not verify is an error.
    fn apply_statements(&mut self, files: &[PathBuf]) -> Result<(), KeyringError> {
        let is_statement = |p: &PathBuf| {
            let n = p.to_string_lossy();
            n.ends_with(".transition.json") || n.ends_with(".revocation.json")
        };
        // transitions first, so that revocations can be checked knowing who succeeds whom
        let mut base = self.clone();
        let mut checked = Vec::new();
        let mut ordered: Vec<&PathBuf> = files
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".transition.json"))
            .collect();
        let n_transitions = ordered.len();
        ordered.extend(
            files
                .iter()
                .filter(|p| is_statement(p) && !p.to_string_lossy().ends_with(".transition.json")),
        );
        for (i, path) in ordered.into_iter().enumerate() {
            if i == n_transitions {
                for (_, _, st) in &checked {
                    if let crate::trust::statements::Statement::Transition { from, to, .. } = st
                        && !base.transitions.contains(&(from.clone(), to.clone()))
                    {
                        base.transitions.push((from.clone(), to.clone()));
                    }
                }
            }
            let bytes = crate::io::read_regular(path, rules::MAX_KEYRING_FILE)?;
            let v = canon::parse(&bytes).map_err(|source| KeyringError::Parse {
                path: path.clone(),
                source,
            })?;
            let mut ck = crate::verify::check::Checker::new(Some(&base));
            match crate::verify::statements::check_statement(&mut ck, &v, &base) {
                Some(st) if ck.ok() => checked.push((path.clone(), v, st)),
                _ => {
                    let what = ck
                        .failures
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ");
                    return Err(KeyringError::Statement {
                        path: path.clone(),
                        what,
                    });
                }
            }
        }
        for (path, v, st) in &checked {
            if let Some(d) = v.get("statement_sha256").and_then(canon::Value::as_str) {
                self.statements
                    .push((path.clone(), d.to_owned(), st.clone()));
                self.log_entries
                    .push((d.to_owned(), crate::format::note::statement_entry(v, st)));
            }
        }
        for (path, _, st) in &checked {
            match st {
                crate::trust::statements::Statement::Transition {
                    from,
                    to,
                    rotates_at,
                } => {
                    if let Some(k) = self.keys.get_mut(from) {
                        // the statement binds: the earlier of the document's and its time
                        if k.doc
                            .rotates_at
                            .is_none_or(|r| rotates_at.micros() < r.micros())
                        {
                            k.doc.rotates_at = Some(*rotates_at);
                        }
                    }
                    if !self.transitions.contains(&(from.clone(), to.clone())) {
                        self.transitions.push((from.clone(), to.clone()));
                    }
                    // the new key's window is its own document's: a transition narrows only
                    // the old key's, so signatures the new key made before stay valid
                }
                crate::trust::statements::Statement::Revocation {
                    key,
                    revoked_at,
                    reason,
                } => {
                    let Some(k) = self.keys.get_mut(key) else {
                        continue;
                    };
                    if k.revoked
                        .as_ref()
                        .is_none_or(|(t, _)| revoked_at.micros() < t.micros())
                    {
                        k.revoked = Some((*revoked_at, reason.clone()));
                    }
                }
            }
            let _ = path;
        }
        // now with revocations known: no transition may be signed by a key already revoked.
        // A revocation stands whoever later turns out compromised (decided): it only narrows
        // a window, so a leaked key gains nothing by one but denial, and dropping it would
        // make valid again a key its custodians chose to revoke.
        let after = self.clone();
        for (path, v, st) in &checked {
            if matches!(st, crate::trust::statements::Statement::Revocation { .. }) {
                continue;
            }
            let mut ck = crate::verify::check::Checker::new(Some(&after));
            crate::verify::statements::check_statement(&mut ck, v, &after);
            if let Some(f) = ck.failures.iter().find(|f| f.code == "key_revoked") {
                return Err(KeyringError::Statement {
                    path: path.clone(),
                    what: f.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Is `new` the key `old` was rotated to, directly or through a chain of verified
    /// key-transition statements? (A re-signed event may carry a successor's signature.)
    pub fn succeeds(&self, old: &str, new: &str) -> bool {
        let mut frontier = vec![old.to_owned()];
        let mut seen = Vec::new();
        while let Some(k) = frontier.pop() {
            for (a, b) in &self.transitions {
                if *a == k && !seen.contains(b) {
                    if b == new {
                        return true;
                    }
                    seen.push(b.clone());
                    frontier.push(b.clone());
                }
            }
        }
        false
    }

    /// The keyring that decides whether a key file may sign: `explicit` when given, else
    /// the directory that holds the key file (its public document and the statements
    /// beside it), so the policy applies whether or not a keyring is named.
    pub fn for_signing(key_file: &Path, explicit: Option<&Path>) -> Result<Self, KeyringError> {
        match explicit {
            Some(dir) => Self::load(dir),
            None => {
                let dir = match key_file.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                Self::load(dir)
            }
        }
    }

    /// Admit `signer` to sign at `now` under the key-validity policy, with the document
    /// this keyring holds for its key (`trust::policy`).
    pub fn authorize(
        &self,
        signer: Box<dyn Signer>,
        now: &Timestamp,
    ) -> Result<Authorized, SignError> {
        let Some(k) = self.get(signer.public().fingerprint()) else {
            return Err(SignError::NotValid(format!(
                "key {} ({}) is not in the keyring",
                signer.key_id(),
                signer.public().fingerprint()
            )));
        };
        Authorized::new(signer, k.clone(), now)
    }

    /// The transparency-log entry of each verified statement it holds:
    /// (`statement_sha256`, entry), in the order they were checked.
    pub fn statement_log_entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.log_entries
            .iter()
            .map(|(d, e)| (d.as_str(), e.as_slice()))
    }

    /// The verified key statements it holds: (file, `statement_sha256`).
    pub fn statements(&self) -> impl Iterator<Item = (&PathBuf, &String)> {
        self.statements.iter().map(|(p, d, _)| (p, d))
    }

    /// The file of a verified statement that names the key with fingerprint `fp`.
    pub(crate) fn statement_naming(&self, fp: &str) -> Option<&PathBuf> {
        use crate::trust::statements::Statement;
        self.statements
            .iter()
            .find(|(_, _, st)| match st {
                Statement::Transition { from, to, .. } => from == fp || to == fp,
                Statement::Revocation { key, .. } => key == fp,
            })
            .map(|(p, _, _)| p)
    }

    /// The trusted key with this fingerprint.
    pub fn get(&self, fingerprint: &str) -> Option<&TrustedKey> {
        self.keys.get(fingerprint)
    }
    /// The trusted key with this key id.
    pub fn by_id(&self, key_id: &str) -> Option<&TrustedKey> {
        self.ids.get(key_id).and_then(|fp| self.keys.get(fp))
    }
    /// All keys, by fingerprint.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.values()
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// No keys?
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Read and check one key document of a keyring (a small regular file, spec §7).
fn read_document(path: &Path) -> Result<KeyDocument, KeyringError> {
    let bytes = crate::io::read_regular(path, rules::MAX_KEYRING_FILE)?;
    let v = canon::parse(&bytes).map_err(|source| KeyringError::Parse {
        path: path.into(),
        source,
    })?;
    KeyDocument::from_value(&v, "$").map_err(|problems| KeyringError::Invalid {
        path: path.into(),
        problems,
    })
}
