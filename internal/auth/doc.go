// Package auth keeps Parley's user accounts: an SQLite file (pure-Go driver
// modernc.org/sqlite) that holds, per user, only what SCRAM needs (RFC 5802,
// RFC 7677) and never the password itself.
//
// For every user the store keeps one random 16-byte salt, the PBKDF2
// iteration count used when the password was last set (stored per user so the
// default can be raised later without breaking old accounts), and StoredKey
// and ServerKey for both SHA-1 and SHA-256:
//
//	SaltedPassword = PBKDF2(H, OpaqueString(password), salt, iterations)
//	StoredKey      = H(HMAC(SaltedPassword, "Client Key"))
//	ServerKey      = HMAC(SaltedPassword, "Server Key")
//
// SCRAM logins (internal/xmpp/sasl) read these through ScramCredentials;
// PLAIN logins call VerifyPassword, which re-derives StoredKey from the
// offered password and compares in constant time.
//
// Usernames are normalised with the PRECIS UsernameCaseMapped profile
// (RFC 8265) and must be valid JID localparts (RFC 7622); passwords with
// OpaqueString, the successor of SASLprep. SCRAM clients still apply
// SASLprep (RFC 4013) before hashing; the two agree on ASCII and most text,
// but a password with compatibility characters (the "ﬁ" ligature, which
// SASLprep's NFKC folds and OpaqueString's NFC keeps) may then work over
// PLAIN and not over SCRAM.
//
// `parley user add|passwd|del NAME` (RunUserCommand) manages accounts from
// the command line.
package auth
