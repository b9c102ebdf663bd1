#[derive(Debug)]
struct ParseError;

#[derive(Debug)]
struct LoadError;

fn parse() -> Result<u32, ParseError> {
    Ok(1)
}

#[fmd::profiled]
fn load() -> Result<u32, LoadError> {
    let n = parse()?;
    Ok(n)
}

fn main() {}
