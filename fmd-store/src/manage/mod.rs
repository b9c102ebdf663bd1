//! What the dashboard changes: users, sessions and settings, endpoint levels, custom graphs'
//! values, alerts' state and history, and deleting data.

pub(crate) mod alerts;
pub(crate) mod prune;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod users;
