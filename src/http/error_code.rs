//! The `error_code!` macro: a dialect's closed set of error codes, each variant spelt once with its
//! wire string, so no code is ever written or compared as a bare string.

/// Declares an enum of error codes with `ALL`, `as_str` (the wire string), `Display`, `FromStr`
/// and a `Serialize` that writes the same string, and a test that every code round-trips (one
/// enum a module).
macro_rules! error_code {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            $vis const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire string.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::http::error_code::UnknownCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|code| code.as_str() == s)
                    .ok_or_else(|| $crate::http::error_code::UnknownCode(s.to_owned()))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(test)]
        #[test]
        fn each_code_round_trips_through_its_wire_string() {
            $crate::http::error_code::assert_round_trips($name::ALL);
        }
    };
}
pub(crate) use error_code;

/// A string that is none of a dialect's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

/// Every code of `all` round-trips through its wire string (`as_str`, `FromStr`, serde), and no two
/// codes share one.
#[cfg(test)]
pub(crate) fn assert_round_trips<C>(all: &[C])
where
    C: Copy
        + PartialEq
        + std::fmt::Debug
        + std::fmt::Display
        + std::str::FromStr
        + serde::Serialize,
    <C as std::str::FromStr>::Err: std::fmt::Debug,
{
    for code in all {
        let wire = code.to_string();
        assert_eq!(wire.parse::<C>().unwrap(), *code);
        assert_eq!(serde_json::to_value(code).unwrap(), wire.as_str());
        let same = all.iter().filter(|c| c.to_string() == wire).count();
        assert_eq!(same, 1, "{wire} is the wire string of more than one code");
    }
}
