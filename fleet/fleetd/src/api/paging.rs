//! fleet's paging (`api/pagination.go`): the `nextPageToken` query parameter carries a [`PageToken`]
//! (`{limit, page}`); a list answers `items[(page-1)*limit .. page*limit]` and a token for the next page only
//! when this page is full. So a list whose length is an exact multiple of the limit ends with one empty,
//! token-less page, and a page past the end is empty with no token, as in fleet.

use std::ops::Range;

use fleet_model::schema::PageToken;

use super::error::HttpError;
use super::request::Query;

/// The query parameter.
const PARAM: &str = "nextPageToken";

/// The page a list request asks for: page 1 without a token. `limit` is the configured `token_limit`
/// (0 is taken as 1, or no page would ever advance).
pub(crate) fn token(query: &Query, limit: u16) -> Result<PageToken, HttpError> {
    let limit = limit.max(1);
    let mut values = query.all(PARAM);
    let Some(value) = values.next() else {
        return Ok(PageToken { limit, page: 1 });
    };
    if values.next().is_some() {
        return Err(HttpError::bad_request("too many values for page token"));
    }
    PageToken::decode(value, limit).map_err(HttpError::bad_request)
}

/// The indexes of `total` items that `token`'s page holds, and the next page's token (`""`: last page).
pub(crate) fn window(total: usize, token: PageToken) -> (Range<usize>, String) {
    let limit = usize::from(token.limit);
    let start = (usize::from(token.page) - 1).saturating_mul(limit);
    let stop = usize::from(token.page).saturating_mul(limit);
    if start >= total {
        return (0..0, String::new());
    }
    let next = match token.page.checked_add(1) {
        Some(page) if stop <= total => PageToken {
            limit: token.limit,
            page,
        }
        .encode(),
        _ => String::new(),
    };
    (start..stop.min(total), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(limit: u16, page: u16) -> PageToken {
        PageToken { limit, page }
    }

    #[test]
    fn pages_slice_and_chain_like_fleet() {
        // 5 items, 2 per page: [0,2) → [2,4) → [4,5) with no token.
        assert_eq!(window(5, tok(2, 1)), (0..2, tok(2, 2).encode()));
        assert_eq!(window(5, tok(2, 2)), (2..4, tok(2, 3).encode()));
        assert_eq!(window(5, tok(2, 3)), (4..5, String::new()));
        // An exact multiple: the last full page still carries a token to an empty page.
        assert_eq!(window(4, tok(2, 2)), (2..4, tok(2, 3).encode()));
        assert_eq!(window(4, tok(2, 3)), (0..0, String::new()));
        assert_eq!(window(0, tok(100, 1)), (0..0, String::new()));
        // The last representable page has no successor.
        assert_eq!(window(usize::MAX, tok(1, u16::MAX)).1, String::new());
    }

    #[test]
    fn tokens_are_checked_with_fleets_messages() {
        let q = |s: &str| Query::parse(s);
        assert_eq!(token(&q(""), 100), Ok(tok(100, 1)));
        assert_eq!(
            token(&q("nextPageToken=ZAACAA%3D%3D"), 100),
            Ok(tok(100, 2))
        );
        let err = |s: &str, limit| token(&q(s), limit).map_err(|e| e.message);
        assert_eq!(
            err("nextPageToken=ZAACAA==&nextPageToken=ZAACAA==", 100),
            Err("too many values for page token".into())
        );
        assert_eq!(err("nextPageToken=", 100), Err("EOF".into()));
        assert_eq!(
            err("nextPageToken=ZAACAA==", 2),
            Err("token limit must be 2".into())
        );
        assert_eq!(
            err("nextPageToken=ZAAAAA==", 100),
            Err("token page must be greater than zero".into())
        );
        assert_eq!(token(&q(""), 0), Ok(tok(1, 1)));
    }
}
