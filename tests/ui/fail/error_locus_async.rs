use std::convert::Infallible;

#[fmd::monitored]
async fn count() -> Result<u32, Infallible> {
    let total = 3;
    Ok("three")
}

fn main() {}
