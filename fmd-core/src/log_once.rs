/// Emits a warning through the `log` facade, or on stderr when the application installed no
/// logger: a warning that nobody sees (the database is down, records are being dropped) is worse
/// than one printed without a logger's formatting.
pub fn warn(message: &str) {
    if log::max_level() == log::LevelFilter::Off {
        eprintln!("fmd: {message}");
    } else {
        log::warn!(target: "fmd", "{message}");
    }
}
