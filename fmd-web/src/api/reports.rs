//! Reports: what changed between two periods or versions.

use http::StatusCode;

use super::ApiError;
use crate::views::{compute_report, report_ask};
use crate::web::{json, Reply, Req};

/// `GET reports?compare=...`.
pub(crate) async fn report(req: &Req) -> Result<Reply, ApiError> {
    match compute_report(req, report_ask(req)).await {
        Ok((Ok(report), _)) => Ok(json(StatusCode::OK, &report)),
        Ok((Err(why), _)) => Err(why.into()),
        Err(why) => Err(why.into()),
    }
}
