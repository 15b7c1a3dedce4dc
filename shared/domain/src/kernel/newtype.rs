//! What the validated text newtypes share, written once: a `Debug` that hides personal data,
//! and the conversions of a code kept as text.

/// `Debug` that names the type and hides the value, so personal data cannot reach a log by
/// accident (P4).
macro_rules! redacted_debug {
    ($($name:ident),+ $(,)?) => {
        $(
            impl std::fmt::Debug for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(concat!(stringify!($name), "(***)"))
                }
            }
        )+
    };
}

/// A code kept as the text its `parse` accepted: read from a `String` (serde's `try_from`) and
/// from `str`, written back as one, displayed as it is.
macro_rules! text_code {
    ($name:ident, $error:ty) => {
        impl std::str::FromStr for $name {
            type Err = $error;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(code: $name) -> String {
                code.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(&self.0)
            }
        }
    };
}

pub(crate) use {redacted_debug, text_code};
