//! What the dashboard changes: users, sessions and settings, endpoint levels, custom graphs'
//! values, and deleting data.

pub(crate) mod prune;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod users;
