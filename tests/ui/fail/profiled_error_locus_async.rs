#[fmd::profiled]
async fn load() -> Result<u32, std::io::Error> {
    let rows = 3;
    Ok("rows")
}

fn main() {}
