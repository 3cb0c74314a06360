//! results.json to HTML (see issue 4).
