//! Matching the `blog` parameter (an ID or a URL) against a site.

use crate::domain::site_url::{self, BlogRef};
use crate::store::Site;

/// True when `wanted` names `site`: the same ID, or the same normalised URL.
pub(crate) fn is(wanted: &BlogRef, site: &Site) -> bool {
    match wanted {
        BlogRef::Id(id) => *id == site.id,
        BlogRef::Url(key) => site_url::normalise(&site.url).is_ok_and(|k| &k == key),
    }
}
