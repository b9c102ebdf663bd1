#[fmd::monitored(name = users.show)]
async fn show() {}

fn main() {}
