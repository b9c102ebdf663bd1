//! The value a request is grouped by (typically the user), rendered as the original dashboard
//! renders it: a scalar as itself, a tuple or list as `(a,b)`, nested ones nested.

use std::fmt;

/// A group-by value: a scalar, or a tuple or list of values.
///
/// Anything convertible with `Into<GroupBy>` can be passed to [`crate::Config::group_by`] or
/// `fmd::set_group_by`: strings, numbers, booleans, tuples of up to four values, arrays and
/// vectors.
///
/// ```
/// use fmd_core::GroupBy;
/// assert_eq!(GroupBy::from(3).to_string(), "3");
/// assert_eq!(GroupBy::from(("User", 3)).to_string(), "(User,3)");
/// assert_eq!(GroupBy::from(vec!["Username", "username"]).to_string(), "(Username,username)");
/// assert_eq!(
///     GroupBy::from((("User", 3), ("Username", "username"))).to_string(),
///     "((User,3),(Username,username))"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// A single value.
    Value(String),
    /// A tuple or list, rendered `(a,b,...)`.
    List(Vec<GroupBy>),
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::Value(v) => f.write_str(v),
            GroupBy::List(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl From<&str> for GroupBy {
    fn from(v: &str) -> Self {
        GroupBy::Value(v.to_owned())
    }
}

impl From<String> for GroupBy {
    fn from(v: String) -> Self {
        GroupBy::Value(v)
    }
}

impl From<&String> for GroupBy {
    fn from(v: &String) -> Self {
        GroupBy::Value(v.clone())
    }
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl From<$t> for GroupBy {
            fn from(v: $t) -> Self {
                GroupBy::Value(v.to_string())
            }
        }
    )*};
}
scalar!(bool, char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: Into<GroupBy>),+> From<($($name,)+)> for GroupBy {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Self {
                GroupBy::List(vec![$($name.into()),+])
            }
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);

impl<T: Into<GroupBy>> From<Vec<T>> for GroupBy {
    fn from(v: Vec<T>) -> Self {
        GroupBy::List(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<GroupBy>, const N: usize> From<[T; N]> for GroupBy {
    fn from(v: [T; N]) -> Self {
        GroupBy::List(v.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference guide's table of group_by values and how they render.
    #[test]
    fn renders_like_the_reference_table() {
        assert_eq!(GroupBy::from(3).to_string(), "3");
        assert_eq!(GroupBy::from(("User", 3)).to_string(), "(User,3)");
        assert_eq!(GroupBy::from("username").to_string(), "username");
        assert_eq!(
            GroupBy::from(["Username", "username"]).to_string(),
            "(Username,username)"
        );
        assert_eq!(
            GroupBy::from(vec![
                GroupBy::from(("User", 3)),
                GroupBy::from(("Username", "username"))
            ])
            .to_string(),
            "((User,3),(Username,username))"
        );
    }

    #[test]
    fn renders_other_scalars_and_empty_lists() {
        assert_eq!(GroupBy::from(true).to_string(), "true");
        assert_eq!(GroupBy::from(2.5).to_string(), "2.5");
        assert_eq!(GroupBy::from(Vec::<u8>::new()).to_string(), "()");
        assert_eq!(
            GroupBy::from(("a", ("b", 1), 'c')).to_string(),
            "(a,(b,1),c)"
        );
    }
}
