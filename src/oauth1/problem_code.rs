//! The `oauth_problem` codes of the OAuth Problem Reporting extension, below both the pure rules
//! (`signature`, `callback`) that name them and `problem`, which answers with them.

crate::http::error_code::error_code! {
    /// An `oauth_problem` value (OAuth Problem Reporting extension, `spec/oauth1.md` §5).
    pub(crate) enum ProblemCode {
        ParameterAbsent = "parameter_absent",
        ParameterRejected = "parameter_rejected",
        SignatureMethodRejected = "signature_method_rejected",
        TimestampRefused = "timestamp_refused",
        VersionRejected = "version_rejected",
        CallbackRejected = "callback_rejected",
        ConsumerKeyUnknown = "consumer_key_unknown",
        TokenRejected = "token_rejected",
        TokenExpired = "token_expired",
        PermissionUnknown = "permission_unknown",
        VerifierInvalid = "verifier_invalid",
        SignatureInvalid = "signature_invalid",
        NonceUsed = "nonce_used",
        TemporarilyUnavailable = "temporarily_unavailable",
        ServerError = "server_error",
    }
}
