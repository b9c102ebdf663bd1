#[fmd::monitored(nmae = "users.show")]
async fn show() {}

fn main() {}
