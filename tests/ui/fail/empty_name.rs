#[fmd::monitored(name = "  ")]
async fn show() {}

fn main() {}
