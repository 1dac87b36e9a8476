//! Key ceremonies: key-transition statements, revocations and the transcript (issue 3).

use crate::canon::Value;
use crate::check::Checker;
use crate::keys::Keyring;

/// `statement_type` of a key-transition statement.
pub const TRANSITION_TYPE: &str = "pith_key_transition";
/// `statement_type` of a key revocation.
pub const REVOCATION_TYPE: &str = "pith_key_revocation";

/// Check a key statement against the keyring.
pub fn check_statement(ck: &mut Checker<'_>, _v: &Value, _keyring: &Keyring) {
    ck.fail(
        "unsupported",
        "$",
        "a statement this version can check",
        "key statements are not checked yet",
    );
}
