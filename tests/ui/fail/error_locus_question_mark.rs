#[derive(Debug)]
struct ParseError;

#[derive(Debug)]
struct HandlerError;

fn parse() -> Result<u32, ParseError> {
    Ok(1)
}

#[fmd::monitored]
async fn handler() -> Result<u32, HandlerError> {
    let n = parse()?;
    Ok(n)
}

fn main() {}
