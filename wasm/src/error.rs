//! Errors as JS `Error`s with a stable `code`: one mapping of the core's error categories.

use js_sys::Reflect;
use stratavec_core::Error;
use wasm_bindgen::JsValue;

/// The stable codes a JS caller can branch on (`err.code`). The message says the specifics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    DimensionMismatch,
    InvalidVector,
    InvalidFilter,
    InvalidArgument,
    NotFound,
    Conflict,
    CorruptFile,
    IncompatibleVersion,
    Storage,
    Internal,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::DimensionMismatch => "DIMENSION_MISMATCH",
            Code::InvalidVector => "INVALID_VECTOR",
            Code::InvalidFilter => "INVALID_FILTER",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::CorruptFile => "CORRUPT_FILE",
            Code::IncompatibleVersion => "INCOMPATIBLE_VERSION",
            Code::Storage => "STORAGE",
            Code::Internal => "INTERNAL",
        }
    }

    fn of(e: &Error) -> Code {
        match e {
            Error::DimensionMismatch { .. } => Code::DimensionMismatch,
            Error::InvalidVector { .. } => Code::InvalidVector,
            Error::InvalidFilter { .. } => Code::InvalidFilter,
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::Conflict(_) => Code::Conflict,
            Error::Corrupt { .. } => Code::CorruptFile,
            Error::IncompatibleVersion { .. } => Code::IncompatibleVersion,
            Error::Io { .. } => Code::Storage,
            _ => Code::Internal,
        }
    }
}

/// A JS `Error` named `StratavecError` carrying `code`.
pub(crate) fn js_error(code: Code, message: impl AsRef<str>) -> JsValue {
    let e = js_sys::Error::new(message.as_ref());
    e.set_name("StratavecError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(
        &e,
        &JsValue::from_str("code"),
        &JsValue::from_str(code.as_str()),
    );
    e.into()
}

/// `InvalidArgument` with this message.
pub(crate) fn invalid(message: impl AsRef<str>) -> JsValue {
    js_error(Code::InvalidArgument, message)
}

/// Core results as JS results.
pub(crate) trait OrThrow<T> {
    fn or_throw(self) -> Result<T, JsValue>;
}

impl<T> OrThrow<T> for stratavec_core::Result<T> {
    fn or_throw(self) -> Result<T, JsValue> {
        self.map_err(|e| js_error(Code::of(&e), e.to_string()))
    }
}
