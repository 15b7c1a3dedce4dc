//! Listings for people page with an opaque cursor: how a page is asked for (`limit`, `cursor`),
//! what it answers, and the one way a bad request for a page is refused.

use crate::kernel::failures::StoreError;
use crate::kernel::problem::{FieldError, Problem};

/// Every listing's default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A listing's largest page, and how its bound is told to a person (in Persian digits).
#[derive(Debug, Clone, Copy)]
pub struct PageSizes {
    pub max: u32,
    pub out_of_range: &'static str,
}

/// A page of a listing, and where the next one starts.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// The page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<'a> {
    pub limit: u32,
    pub cursor: Option<&'a str>,
}

impl<'a> PageRequest<'a> {
    /// `limit` from 1 to the listing's largest page (`DEFAULT_PAGE_SIZE` when absent); the
    /// cursor as given, for the listing to judge.
    pub fn parse(limit: Option<&str>, cursor: Option<&'a str>, sizes: PageSizes) -> Result<Self, Problem> {
        let limit =
            match limit {
                None => DEFAULT_PAGE_SIZE.min(sizes.max),
                Some(text) => text.parse().ok().filter(|n| (1..=sizes.max).contains(n)).ok_or_else(|| {
                    Problem::invalid(vec![FieldError::new("limit", "out-of-range", sizes.out_of_range)])
                })?,
            };
        Ok(Self { limit, cursor })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor is not one this listing gave out")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ListError> for Problem {
    fn from(error: ListError) -> Self {
        match error {
            ListError::BadCursor => {
                Problem::invalid(vec![FieldError::new("cursor", "cursor-invalid", "نشانگر صفحه معتبر نیست.")])
            }
            ListError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIFTY: PageSizes =
        PageSizes { max: 50, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۵۰ باشد." };

    #[test]
    fn a_page_is_asked_for_with_a_limit_in_range_and_an_opaque_cursor() {
        assert_eq!(PageRequest::parse(None, None, FIFTY), Ok(PageRequest { limit: DEFAULT_PAGE_SIZE, cursor: None }));
        assert_eq!(
            PageRequest::parse(Some("50"), Some("abc"), FIFTY),
            Ok(PageRequest { limit: 50, cursor: Some("abc") })
        );
        for bad in ["0", "51", "-1", "ten", ""] {
            let problem = PageRequest::parse(Some(bad), None, FIFTY).unwrap_err();
            assert_eq!(problem.errors, [FieldError::new("limit", "out-of-range", FIFTY.out_of_range)], "{bad}");
        }
    }
}
