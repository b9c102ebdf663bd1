fn main() {
    let n: u32 = fmd::span!("parse", {
        let text = "3";
        text
    });
    let _ = n;
}
