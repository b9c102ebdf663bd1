#[fmd::monitored(name = "a", name = "b")]
async fn show() {}

fn main() {}
