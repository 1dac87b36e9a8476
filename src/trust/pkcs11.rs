//! Keys kept in a PKCS#11 token (an HSM, a smart card, SoftHSM): the private key never
//! leaves the token; pith asks it for Ed25519 signatures (`CKM_EDDSA`, pure Ed25519)
//! through the one signing path, as another [`Signer`].
//!
//! A key is named by an RFC 7512 URI, `pkcs11:token=LABEL;object=KEY_ID` (`id=` also
//! accepted, percent-encoded); the object label is the key id of its public document. A
//! PIN is never taken from the URI (`pin-value` is refused).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use zeroize::Zeroizing;

use crate::trust::keys::PublicKey;
use crate::trust::signer::{Message, SignError, Signer};

/// Why a token key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The URI is not one pith takes.
    #[error("PKCS#11 URI: {0}")]
    Uri(String),
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {}: {what}", path.display())]
    Module {
        /// The module file.
        path: PathBuf,
        /// What failed.
        what: String,
    },
    /// The token is missing, cannot do Ed25519, or refused.
    #[error("token {token:?}: {what}")]
    Token {
        /// The token label.
        token: String,
        /// What failed.
        what: String,
    },
    /// The PIN was refused: nothing was changed.
    #[error("token {0:?}: the PIN is incorrect")]
    Pin(String),
}

/// A parsed `pkcs11:` URI (RFC 7512), the attributes pith uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: String,
    /// `object`: the key's label (its key id).
    pub object: Option<String>,
    /// `id`: the key's CKA_ID bytes.
    pub id: Option<Vec<u8>>,
    /// `module-path` query attribute.
    pub module_path: Option<PathBuf>,
}

fn pct_decode(s: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Pkcs11Error::Uri(format!("bad percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl Pkcs11Uri {
    /// Is this key argument a PKCS#11 URI rather than a file?
    pub fn is_uri(arg: &str) -> bool {
        arg.starts_with("pkcs11:")
    }

    /// Parse `pkcs11:token=…;object=…[;id=…][?module-path=…]`. `token` is required; other
    /// path attributes (`manufacturer`, `model`, `serial`, `type`, `library-*`, `slot-*`)
    /// are accepted and not used; `pin-value` is refused (a PIN on argv is a leaked PIN).
    pub fn parse(s: &str) -> Result<Self, Pkcs11Error> {
        let rest = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| Pkcs11Error::Uri("expected a pkcs11: URI".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut id, mut module_path) = (None, None, None, None);
        let text = |v: &str| {
            String::from_utf8(pct_decode(v)?)
                .map_err(|_| Pkcs11Error::Uri(format!("{v:?} is not UTF-8")))
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| Pkcs11Error::Uri(format!("{attr:?} is not NAME=VALUE")))?;
            match k {
                "token" => token = Some(text(v)?),
                "object" => object = Some(text(v)?),
                "id" => id = Some(pct_decode(v)?),
                "manufacturer"
                | "model"
                | "serial"
                | "type"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description"
                | "slot-id" => {}
                other => {
                    return Err(Pkcs11Error::Uri(format!(
                        "unknown path attribute {other:?}"
                    )));
                }
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k {
                "module-path" => module_path = Some(PathBuf::from(text(v)?)),
                "pin-value" => {
                    return Err(Pkcs11Error::Uri(
                        "pin-value is refused: give the PIN with --pin-file, PITH_PIN or at the prompt"
                            .into(),
                    ));
                }
                "pin-source" | "module-name" => {}
                other => {
                    return Err(Pkcs11Error::Uri(format!(
                        "unknown query attribute {other:?}"
                    )));
                }
            }
        }
        let token = token.ok_or_else(|| Pkcs11Error::Uri("token= is required".into()))?;
        if object.is_none() && id.is_none() {
            return Err(Pkcs11Error::Uri("object= or id= is required".into()));
        }
        Ok(Pkcs11Uri {
            token,
            object,
            id,
            module_path,
        })
    }
}

/// The 32-byte Ed25519 point from `CKA_EC_POINT` as tokens return it: raw, in a DER
/// OCTET STRING (`04 20 …`, PKCS#11 3.0), or in a DER BIT STRING (`03 21 00 …`).
pub fn ec_point(v: &[u8]) -> Option<[u8; 32]> {
    let raw = match v {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        [0x03, 0x21, 0x00, rest @ ..] if rest.len() == 32 => rest,
        _ if v.len() == 32 => v,
        _ => return None,
    };
    raw.try_into().ok()
}

/// DER of the Ed25519 curve's OID 1.3.101.112.
const OID_ED25519: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

/// Is `CKA_EC_PARAMS` Ed25519: the OID 1.3.101.112, or the printable string
/// `edwards25519` (both encodings tokens use)?
pub fn is_ed25519_params(v: &[u8]) -> bool {
    v == OID_ED25519 || v == [&[0x13, 0x0c][..], b"edwards25519"].concat()
}

/// One initialised context per module for the whole process: PKCS#11 allows a module to be
/// initialised once, and a rotation from one token key to another opens two keys.
fn context(module: &Path) -> Result<Pkcs11, String> {
    static CONTEXTS: std::sync::OnceLock<Mutex<std::collections::HashMap<PathBuf, Pkcs11>>> =
        std::sync::OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| "the PKCS#11 context lock is poisoned".to_owned())?;
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| e.to_string())?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| e.to_string())?;
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// An open token: module, slot, logged-in session.
struct Opened {
    session: Session,
    token: String,
    ctx: Pkcs11,
    slot: Slot,
}

fn open_token(module: &Path, uri: &Pkcs11Uri, pin: &str, rw: bool) -> Result<Opened, Pkcs11Error> {
    let merr = |what: String| Pkcs11Error::Module {
        path: module.to_path_buf(),
        what,
    };
    let ctx = context(module).map_err(merr)?;
    let terr = |what: String| Pkcs11Error::Token {
        token: uri.token.clone(),
        what,
    };
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| merr(e.to_string()))?;
    let slot: Slot = slots
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|t| t.label().trim_end() == uri.token)
        })
        .ok_or_else(|| terr("no such token in the module".into()))?;
    let mechs = ctx
        .get_mechanism_list(slot)
        .map_err(|e| terr(e.to_string()))?;
    if !mechs.contains(&MechanismType::EDDSA)
        || (rw && !mechs.contains(&MechanismType::ECC_EDWARDS_KEY_PAIR_GEN))
    {
        return Err(terr(
            "the token does not offer Ed25519 (CKM_EDDSA, CKM_EC_EDWARDS_KEY_PAIR_GEN)".into(),
        ));
    }
    let session = if rw {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(|e| terr(e.to_string()))?;
    let auth = cryptoki::types::AuthPin::from(pin.to_owned());
    match session.login(UserType::User, Some(&auth)) {
        Ok(()) => {}
        // a second key of the same token in this process: the token is logged in already
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::PinIncorrect, _)) => {
            return Err(Pkcs11Error::Pin(uri.token.clone()));
        }
        Err(other) => return Err(terr(format!("login failed: {other}"))),
    }
    Ok(Opened {
        session,
        token: uri.token.clone(),
        ctx,
        slot,
    })
}

fn template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(class),
        Attribute::KeyType(KeyType::EC_EDWARDS),
    ];
    if let Some(o) = &uri.object {
        t.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(i) = &uri.id {
        t.push(Attribute::Id(i.clone()));
    }
    t
}

/// The public key of the token's key pair named by `uri`, read from its public key object.
fn public_of(o: &Opened, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
    let terr = |what: String| Pkcs11Error::Token {
        token: o.token.clone(),
        what,
    };
    let found = o
        .session
        .find_objects(&template(uri, ObjectClass::PUBLIC_KEY))
        .map_err(|e| terr(e.to_string()))?;
    let [h] = found.as_slice() else {
        return Err(terr(format!(
            "{} Ed25519 public key objects match the URI, expected one",
            found.len()
        )));
    };
    let attrs = o
        .session
        .get_attributes(*h, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| terr(e.to_string()))?;
    let (mut params, mut point) = (None, None);
    for a in attrs {
        match a {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if !params.as_deref().is_some_and(is_ed25519_params) {
        return Err(terr("the key's curve is not edwards25519".into()));
    }
    let raw = point
        .as_deref()
        .and_then(ec_point)
        .ok_or_else(|| terr("the key's CKA_EC_POINT is not an Ed25519 point".into()))?;
    PublicKey::from_raw(raw).ok_or_else(|| terr("the key's point is not on the curve".into()))
}

/// An Ed25519 key inside a token, signing through one logged-in session.
pub struct TokenKey {
    /// One session per worker thread (a session signs one message at a time); the login
    /// is the token's, shared by all of them.
    sessions: Vec<Mutex<Session>>,
    next: std::sync::atomic::AtomicUsize,
    key: ObjectHandle,
    public: PublicKey,
    key_id: String,
    token: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("token", &self.token)
            .field("key_id", &self.key_id)
            .field("fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// Open the key named by `uri` in the token of `module`, logged in with `pin`. Its key
    /// id is the object label (`object=`), which must be the key id of its document.
    pub fn open(
        module: &Path,
        uri: &Pkcs11Uri,
        pin: &Zeroizing<String>,
    ) -> Result<Self, Pkcs11Error> {
        let o = open_token(module, uri, pin, false)?;
        let terr = |what: String| Pkcs11Error::Token {
            token: o.token.clone(),
            what,
        };
        let public = public_of(&o, uri)?;
        let found = o
            .session
            .find_objects(&template(uri, ObjectClass::PRIVATE_KEY))
            .map_err(|e| terr(e.to_string()))?;
        let [key] = found.as_slice() else {
            return Err(terr(format!(
                "{} Ed25519 private key objects match the URI, expected one",
                found.len()
            )));
        };
        let key_id = uri
            .object
            .clone()
            .ok_or_else(|| terr("name the key with object= (its key id)".into()))?;
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(16);
        let mut sessions = vec![Mutex::new(o.session)];
        for _ in 1..workers {
            match o.ctx.open_ro_session(o.slot) {
                Ok(s) => sessions.push(Mutex::new(s)),
                Err(_) => break,
            }
        }
        Ok(TokenKey {
            key: *key,
            public,
            key_id,
            token: o.token.clone(),
            sessions,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The token's label.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Signer for TokenKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }
    fn public(&self) -> &PublicKey {
        &self.public
    }
    fn sign(&self, message: &Message) -> Result<[u8; 64], SignError> {
        // a free session if there is one, else wait for one in turn
        let session = match self.sessions.iter().find_map(|s| s.try_lock().ok()) {
            Some(g) => g,
            None => {
                let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    % self.sessions.len();
                self.sessions[i]
                    .lock()
                    .map_err(|_| SignError::Device("the token session is poisoned".into()))?
            }
        };
        let mech = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = session
            .sign(&mech, self.key, message.as_bytes())
            .map_err(|e| SignError::Device(format!("token {:?}: {e}", self.token)))?;
        let sig: [u8; 64] = sig.as_slice().try_into().map_err(|_| {
            SignError::Device(format!(
                "token {:?} returned a {}-byte signature",
                self.token,
                sig.len()
            ))
        })?;
        // a token is another implementation: what it signed must verify strictly here
        if !self.public.verify_message(message.as_bytes(), &sig) {
            return Err(SignError::Device(format!(
                "token {:?} made a signature that does not verify",
                self.token
            )));
        }
        Ok(sig)
    }
}

/// Generate an Ed25519 key pair inside the token (`CKM_EC_EDWARDS_KEY_PAIR_GEN`), labelled
/// with the URI's `object` (the key id): the private key sensitive and never extractable.
/// Refused when the token already holds a key of that label or id.
pub fn generate(
    module: &Path,
    uri: &Pkcs11Uri,
    pin: &Zeroizing<String>,
) -> Result<PublicKey, Pkcs11Error> {
    let o = open_token(module, uri, pin, true)?;
    let terr = |what: String| Pkcs11Error::Token {
        token: o.token.clone(),
        what,
    };
    let label = uri
        .object
        .clone()
        .ok_or_else(|| terr("name the new key with object= (its key id)".into()))?;
    for class in [ObjectClass::PUBLIC_KEY, ObjectClass::PRIVATE_KEY] {
        let existing = o
            .session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(|e| terr(e.to_string()))?;
        if !existing.is_empty() {
            return Err(terr(format!(
                "a key labelled {label:?} is already in the token"
            )));
        }
    }
    let id = uri.id.clone().unwrap_or_else(|| label.as_bytes().to_vec());
    let public_t = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(OID_ED25519.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private_t = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ];
    o.session
        .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public_t, &private_t)
        .map_err(|e| terr(format!("key generation failed: {e}")))?;
    public_of(&o, uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_points() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=pith%20hsm;object=pith-v1-2026-12;id=%01%02?module-path=/usr/lib/x.so",
        )
        .unwrap();
        assert_eq!(u.token, "pith hsm");
        assert_eq!(u.object.as_deref(), Some("pith-v1-2026-12"));
        assert_eq!(u.id, Some(vec![1, 2]));
        assert!(Pkcs11Uri::parse("pkcs11:token=t;object=k?pin-value=1234").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=k").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:token=t").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:token=t;object=k;bogus=1").is_err());
        let p = [7u8; 32];
        assert_eq!(ec_point(&p), Some(p));
        assert_eq!(ec_point(&[&[4, 32][..], &p].concat()), Some(p));
        assert_eq!(ec_point(&[&[3, 33, 0][..], &p].concat()), Some(p));
        assert_eq!(ec_point(&[&[4, 31][..], &p[..31]].concat()), None);
        assert!(is_ed25519_params(&OID_ED25519));
        assert!(is_ed25519_params(b"\x13\x0cedwards25519"));
        assert!(!is_ed25519_params(b"\x06\x03\x2b\x65\x71"));
    }
}
