//! The dashboard in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them). Recorded text that is markup,
//! in an exception's message and in a frame's source, must render as text and run nothing.
//!
//! Every page is visited as an administrator and as a guest: each chart must draw data points,
//! the console stays free of errors, the level select changes the stored level, and the guest
//! sees no control that changes anything. Screenshots go to `target/tmp/screenshots/`.
//!
//! Without chromedriver the tests say so and pass; with `CI=true` they fail instead.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fmd::monitored;
use serde_json::{json, Value};
use warp::Filter;

/// Sets a flag if it ever runs: in a message and in the function's source.
const PAYLOAD: &str = "<script>window.fmdXss=1</script><img src=x onerror=\"window.fmdXss=2\">";

#[monitored]
async fn hostile() -> Result<String, std::convert::Infallible> {
    fmd::capture!(std::io::Error::other(
        "<script>window.fmdXss=1</script><img src=x onerror=\"window.fmdXss=2\">"
    ));
    Ok("captured".into())
}

#[monitored]
async fn shop(n: u32) -> Result<warp::reply::WithStatus<String>, std::convert::Infallible> {
    fmd::set_group_by(format!("user{}", n % 5));
    let status = match n % 10 {
        0 => warp::http::StatusCode::NOT_FOUND,
        1 => warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        _ => warp::http::StatusCode::OK,
    };
    Ok(warp::reply::with_status(format!("shop {n}"), status))
}

#[monitored]
async fn ping() -> Result<&'static str, std::convert::Infallible> {
    Ok("pong")
}

/// Markup recorded through every field a request or a configuration can reach the pages by.
const MARKUP: &str = "<img src=x onerror=\"window.fmdXss=5\"><b class=fmd-injected>b</b>";

#[fmd::profiled(name = "<img src=x onerror=\"window.fmdXss=6\"><b class=fmd-injected>p</b>")]
async fn marked_step(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// The name of [`marked`].
const MARKED: &str = "<img src=x onerror=\"window.fmdXss=7\"><b class=fmd-injected>e</b>";

#[monitored(name = "<img src=x onerror=\"window.fmdXss=7\"><b class=fmd-injected>e</b>")]
async fn marked(ms: u64) -> Result<warp::reply::WithStatus<String>, std::convert::Infallible> {
    fmd::set_group_by(MARKUP);
    marked_step(ms).await;
    if ms == 7 {
        fmd::capture!(std::io::Error::other(MARKUP));
    }
    let status = if ms == 9 {
        warp::http::StatusCode::INTERNAL_SERVER_ERROR
    } else {
        warp::http::StatusCode::OK
    };
    Ok(warp::reply::with_status(String::new(), status))
}

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    /// Starts chromedriver with a headless Chromium, or `None` (after saying why) when they
    /// are not installed outside CI.
    async fn start() -> Option<Browser> {
        let driver_bin = std::env::var("FMD_TEST_CHROMEDRIVER").unwrap_or("chromedriver".into());
        let chromium = std::env::var("FMD_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = match Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                let why = format!(
                    "cannot start {driver_bin} ({e}): install Debian's chromium and \
                     chromium-driver, or set FMD_TEST_CHROMEDRIVER"
                );
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("skipping the browser test: {why}");
                return None;
            }
        };
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--window-size=1366,900"]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        Some(Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let r: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(r["value"]["error"].is_null(), "{path}: {r}");
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Runs `script` asynchronously: it calls `arguments[0]` with its result.
    async fn run_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Runs `script` until it returns something other than null or false.
    async fn wait_for(&self, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.run(script).await;
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {script}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    /// Sets the window's size, as a phone or a narrow laptop window would have it.
    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Logs in through the form and waits for the overview.
    async fn login(&self, server: &Server, user: &str, password: &str) {
        self.goto(&server.url("/dashboard/login")).await;
        self.run(&format!(
            "document.querySelector('input[name=username]').value = {};
             document.querySelector('input[name=password]').value = {};
             document.querySelector('form.login-card').submit();",
            json!(user),
            json!(password)
        ))
        .await;
        self.wait_for("return location.pathname.endsWith('/overview')")
            .await;
    }

    /// Opens a dashboard page, waits until every chart on it has been drawn or has said why
    /// not, and returns the points each chart drew, by API route.
    async fn visit(&self, server: &Server, path: &str) -> Vec<(String, u64)> {
        self.goto(&server.url(&format!("/dashboard{path}"))).await;
        self.wait_for(
            "return document.readyState === 'complete' &&
                Array.prototype.every.call(document.querySelectorAll('[data-chart], [data-pair]'),
                    function (e) { return e.hasAttribute('data-points'); })",
        )
        .await;
        let drawn = self
            .run(
                "return Array.prototype.map.call(document.querySelectorAll('[data-chart], [data-pair]'), function (e) {
                    var c = e.fmdChart, series = c ? c.getOption().series : [];
                    var points = series.reduce(function (n, s) { return n + (s.data || []).length; }, 0);
                    return [e.getAttribute('data-api') || 'report', c ? points : 0];
                })",
            )
            .await;
        drawn
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// Shows the tooltip of the first points of every series of every chart on the page, as a
    /// hover would, and returns how many it showed.
    async fn hover_every_chart(&self) -> u64 {
        let shown = self
            .run(
                "var shown = 0;
                 Array.prototype.forEach.call(document.querySelectorAll('[data-chart], [data-pair], #flame, #sunburst, #cpu-chart'), function (e) {
                     var c = e.fmdChart;
                     if (!c) return;
                     c.getOption().series.forEach(function (s, i) {
                         var n = Math.min((s.data || []).length || 3, 5);
                         for (var d = 0; d < n; d++) {
                             c.dispatchAction({ type: 'showTip', seriesIndex: i, dataIndex: d });
                             shown++;
                         }
                     });
                 });
                 return shown;",
            )
            .await;
        // Tooltips render on the next frame.
        tokio::time::sleep(Duration::from_millis(150)).await;
        shown.as_u64().unwrap()
    }

    /// Elements made from recorded markup anywhere in the document, tooltips included, and
    /// whether any of it ran.
    async fn injected(&self) -> (u64, Value) {
        let made = self
            .run("return document.querySelectorAll('img[src=x], b.fmd-injected, script:not([src])').length")
            .await;
        let ran = self
            .run("return window.fmdXss === undefined ? null : window.fmdXss")
            .await;
        (made.as_u64().unwrap(), ran)
    }

    /// The console's errors so far.
    async fn console_errors(&self) -> Vec<String> {
        let log = self
            .call(reqwest::Method::POST, "/se/log", json!({"type": "browser"}))
            .await;
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test]
async fn recorded_markup_renders_as_text() {
    let _serial = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("hostile").and_then(hostile);
    let server = Server::start(config(&dir), app).await;
    client().get(server.url("/hostile")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();

    browser.goto(&server.url("/dashboard/login")).await;
    browser
        .run(&format!(
            "document.querySelector('input[name=username]').value = 'admin';
             document.querySelector('input[name=password]').value = {};
             document.querySelector('form.login-card').submit();",
            json!(ADMIN_PW)
        ))
        .await;
    browser
        .wait_for("return location.pathname.endsWith('/overview')")
        .await;

    browser.goto(&server.url("/dashboard/exceptions")).await;
    let text = browser
        .wait_for(
            "return document.querySelector('main') && document.querySelector('main').innerText",
        )
        .await;
    assert!(
        text.as_str().unwrap().contains(PAYLOAD),
        "the message shows as text: {text}"
    );
    browser.screenshot("exceptions-markup.png").await;

    // The endpoint's Exceptions tab: the message, and the frame's source opened in the page.
    let id = browser
        .run("var a = document.querySelector('a[href*=\"/endpoint/\"]'); return a && a.getAttribute('href')")
        .await;
    let href = id.as_str().expect("the group links to its endpoint");
    let endpoint_id: String = href
        .split("/endpoint/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    browser
        .goto(&server.url(&format!("/dashboard/endpoint/{endpoint_id}/exceptions")))
        .await;
    browser
        .wait_for("return document.querySelector('button.show-source')")
        .await;
    browser
        .run("document.querySelector('li.frame:not(.library) button.show-source').click()")
        .await;
    let source = browser
        .wait_for(
            "var b = document.querySelector('li.frame:not(.library) .source-box');
             return b && !b.hidden && b.innerText",
        )
        .await;
    assert!(
        source
            .as_str()
            .unwrap()
            .contains("<script>window.fmdXss=1</script>"),
        "the source shows as text: {source}"
    );
    assert!(browser
        .run("return document.querySelector('main').innerText")
        .await
        .as_str()
        .unwrap()
        .contains(PAYLOAD));
    browser.screenshot("endpoint-exceptions-markup.png").await;

    let ran = browser
        .run("return window.fmdXss === undefined ? null : window.fmdXss")
        .await;
    assert!(ran.is_null(), "recorded markup ran as code: {ran}");
    let injected = browser
        .run("return document.querySelectorAll('main script, main img[src=x]').length")
        .await;
    assert_eq!(injected, 0, "no element was made from recorded text");
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_recorded_value_becomes_an_element_on_any_page_or_tooltip() {
    let _serial = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir)
        .app_version(MARKUP)
        .instance_name(MARKUP)
        .outlier_min_samples(5);
    let app = warp::path!("marked" / u64).and_then(marked);
    let server = Server::start(config, app).await;
    server.dashboard.set_level(MARKED, 3).await.unwrap();
    let c = client();
    for ms in [1, 1, 2, 1, 2, 1, 7, 9] {
        c.get(server.url(&format!("/marked/{ms}")))
            .send()
            .await
            .unwrap();
    }
    server.dashboard.flush().await.unwrap();
    // An outlier with markup in its URL and headers.
    c.get(server.url("/marked/300?q=%3Cimg%20src%3Dx%3E&note=\"><b>"))
        .header("x-note", MARKUP)
        .send()
        .await
        .unwrap();
    server.dashboard.flush().await.unwrap();
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let r = admin
        .post(server.url("/dashboard/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"username": MARKUP, "password": "long-enough", "confirm": "long-enough", "role": "guest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let endpoint = overview_row(&server, &admin, MARKED).await["id"]
        .as_i64()
        .unwrap();

    browser.login(&server, "admin", ADMIN_PW).await;
    let endpoint_page = |tab: &str| format!("/endpoint/{endpoint}{tab}");
    let pages = [
        "/overview".to_owned(),
        "/charts".to_owned(),
        "/reports".to_owned(),
        "/exceptions".to_owned(),
        endpoint_page(""),
        endpoint_page("/requests"),
        endpoint_page("/charts"),
        endpoint_page("/outliers"),
        endpoint_page("/profiler"),
        endpoint_page("/grouped-profiler"),
        endpoint_page("/exceptions"),
        "/alerts".to_owned(),
        "/settings".to_owned(),
        "/settings/users".to_owned(),
        "/settings/data".to_owned(),
    ];
    let mut hovered = 0;
    for path in &pages {
        browser.visit(&server, path).await;
        hovered += browser.hover_every_chart().await;
        let (made, ran) = browser.injected().await;
        assert_eq!(made, 0, "{path}: an element was made from recorded markup");
        assert!(ran.is_null(), "{path}: recorded markup ran: {ran}");
        let errors = browser.console_errors().await;
        assert!(errors.is_empty(), "{path}: console errors: {errors:?}");
    }
    assert!(hovered >= 20, "only {hovered} tooltips were shown");
    // The grouped profiler: a flame graph first, the sunburst a click away, both drawn on the
    // canvas from recorded function names.
    browser
        .visit(&server, &endpoint_page("/grouped-profiler"))
        .await;
    let bars = browser
        .run("return document.getElementById('flame').fmdChart.getOption().series[0].data.length")
        .await;
    assert!(bars.as_u64().unwrap() >= 2, "{bars}");
    browser
        .run("document.querySelector('.profile-views button[data-view=sunburst]').click()")
        .await;
    browser
        .wait_for("var s = document.getElementById('sunburst'); return !s.hidden && !!s.fmdChart && document.getElementById('flame').hidden")
        .await;
    assert!(browser.hover_every_chart().await >= 2);
    let (made, ran) = browser.injected().await;
    assert_eq!(
        made, 0,
        "the grouped profiler's charts made an element from recorded markup"
    );
    assert!(ran.is_null(), "{ran}");
    browser.visit(&server, &endpoint_page("/outliers")).await;
    let text = browser.run("return document.body.innerText").await;
    assert!(
        text.as_str().unwrap().contains(MARKUP),
        "the header's markup shows as text"
    );
    browser.screenshot("outliers-markup.png").await;
    drop(browser);
    server.stop().await;
}

#[tokio::test]
async fn every_page_renders_and_every_chart_draws() {
    let _serial = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("shop" / u32)
        .and_then(shop)
        .or(warp::path!("ping").and_then(ping));
    let server = Server::start(config(&dir), app).await;
    let c = client();
    for n in 0..60 {
        c.get(server.url(&format!("/shop/{n}")))
            .send()
            .await
            .unwrap();
    }
    c.get(server.url("/ping")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    server.dashboard.add_graph(
        "queue length",
        fmd::Schedule::every(Duration::from_secs(60)),
        || 3,
    );
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let shop_id = overview_row(&server, &admin, "shop").await["id"]
        .as_i64()
        .unwrap();
    let ping_id = overview_row(&server, &admin, "ping").await["id"]
        .as_i64()
        .unwrap();

    // The graph's first run is at start: wait for its value.
    let deadline = Instant::now() + Duration::from_secs(10);
    while json(&admin, &server.url("/dashboard/api/graphs")).await.1[0]["runs"] != 1 {
        assert!(Instant::now() < deadline, "the custom graph did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.login(&server, "admin", ADMIN_PW).await;
    let endpoint = |tab: &str| format!("/endpoint/{shop_id}{tab}");
    let pages = [
        ("overview", "/overview".to_owned()),
        ("charts", "/charts".to_owned()),
        ("reports", "/reports".to_owned()),
        ("graphs", "/graphs".to_owned()),
        ("exceptions", "/exceptions".to_owned()),
        ("endpoint", endpoint("")),
        ("endpoint-requests", endpoint("/requests")),
        ("endpoint-charts", endpoint("/charts")),
        ("endpoint-outliers", endpoint("/outliers")),
        ("endpoint-profiler", endpoint("/profiler")),
        ("endpoint-grouped-profiler", endpoint("/grouped-profiler")),
        ("endpoint-exceptions", endpoint("/exceptions")),
        ("alerts", "/alerts".to_owned()),
        ("settings", "/settings".to_owned()),
        ("settings-users", "/settings/users".to_owned()),
        ("settings-data", "/settings/data".to_owned()),
    ];
    let mut charts = 0;
    for (name, path) in &pages {
        let drawn = browser.visit(&server, path).await;
        for (api, points) in &drawn {
            assert!(
                *points > 0,
                "{path}: the chart of {api} drew no data points"
            );
        }
        charts += drawn.len();
        browser.hover_every_chart().await;
        let title = browser
            .run("return document.querySelector('.topbar h1').innerText")
            .await;
        assert!(!title.as_str().unwrap().is_empty(), "{path} has a title");
        browser.screenshot(&format!("{name}.png")).await;
    }
    assert_eq!(
        charts,
        1 + 4 + 2 + 1 + 1 + 6,
        "the overview's timeline, the application's 4 charts, a report chart per endpoint, the \
         custom graph, the endpoint's timeline and its 6 charts"
    );

    // The timeline: of the last hour on a new install, four series, another range a link away,
    // and kept up to date: a request sent now shows within the 10 s refresh.
    let timeline_hits = "var c = document.querySelector('[data-chart=timeline]').fmdChart;
        if (!c) return -1;
        var o = c.getOption();
        return o.series.length === 4 ? o.series[0].data.filter(function (p) { return p[1] !== null; }).length : -2";
    browser.visit(&server, "/overview").await;
    let range = browser
        .run("return document.querySelector('[data-chart=timeline]').getAttribute('data-range')")
        .await;
    assert_eq!(range, "1h", "a new install sees its first hour");
    // The overview leads with the endpoint that fails: shop's 404s and 500s are answers it
    // chose, not exceptions, so its error count leads to its status codes.
    let overview = browser
        .run(
            "return [document.querySelector('#overview tbody tr').getAttribute('data-name'),
            document.querySelector('#overview tbody a.errors').getAttribute('href'),
            document.querySelector('#overview tfoot').innerText,
            document.querySelector('#overview tbody tr .rate').innerText,
            document.querySelectorAll('#overview tbody svg.spark polyline').length,
            document.querySelectorAll('#overview tbody tr').length]",
        )
        .await;
    assert_eq!(overview[0], "shop", "{overview}");
    assert!(
        overview[1]
            .as_str()
            .unwrap()
            .ends_with(&format!("/endpoint/{shop_id}/charts#status")),
        "{overview}"
    );
    let totals = overview[2].as_str().unwrap();
    assert!(
        totals.contains("All endpoints") && totals.contains("61"),
        "{overview}"
    );
    assert_eq!(overview[3], "20 %", "12 errors of 60: {overview}");
    assert_eq!(
        overview[4].as_i64().unwrap(),
        2 * overview[5].as_i64().unwrap(),
        "hits and errors of every endpoint: {overview}"
    );
    let busy_minutes = browser.run(timeline_hits).await.as_i64().unwrap();
    assert!(busy_minutes >= 1, "{busy_minutes}");
    browser
        .run("document.querySelector('.timeline-card a[href=\"?range=7d\"]').click()")
        .await;
    browser
        .wait_for("return location.search === '?range=7d' && document.querySelector('[data-chart=timeline]').hasAttribute('data-points')")
        .await;
    let busy_hours = browser.run(timeline_hits).await.as_i64().unwrap();
    assert!(
        (1..=2).contains(&busy_hours),
        "one busy hour of a week, two across an hour: {busy_hours}"
    );
    let before = browser
        .run("return document.querySelector('[data-chart=timeline]').fmdChart.getOption().series[0].data.length")
        .await;
    assert_eq!(before, 168, "a week of hours");
    browser.visit(&server, &endpoint("")).await;
    let hits = "var d = document.querySelector('[data-chart=timeline]').fmdData;
        return d.buckets.reduce(function (n, b) { return n + b.hits; }, 0)";
    assert_eq!(browser.run(hits).await, 60, "the shop's 60 requests");
    c.get(server.url("/shop/7")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while browser.run(hits).await != 61 {
        assert!(Instant::now() < deadline, "the timeline was not refreshed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The Requests tab: slowest first, narrowed to errors, and its download form.
    browser.visit(&server, &endpoint("/requests")).await;
    browser
        .run(
            "var f = document.querySelector('form.request-view');
              f.querySelector('select[name=sort]').value = 'slowest';
              f.querySelector('select[name=status]').value = 'errors';
              f.submit();",
        )
        .await;
    browser
        .wait_for("return location.search.indexOf('sort=slowest') !== -1 && document.readyState === 'complete'")
        .await;
    let shown = browser
        .run("return Array.prototype.map.call(document.querySelectorAll('table.data tbody tr'), function (r) {
            return [parseFloat(r.cells[1].innerText), parseInt(r.cells[2].innerText, 10)]; })")
        .await;
    let shown = shown.as_array().unwrap();
    assert_eq!(
        shown.len(),
        12,
        "the 12 errors of the 61 requests: {shown:?}"
    );
    assert!(
        shown.iter().all(|r| r[1].as_i64().unwrap() >= 400),
        "{shown:?}"
    );
    let durations: Vec<f64> = shown.iter().map(|r| r[0].as_f64().unwrap()).collect();
    assert!(
        durations.windows(2).all(|w| w[0] >= w[1]),
        "slowest first: {durations:?}"
    );
    let downloaded = browser
        .run_async("var f = document.querySelector('form.download-form'), done = arguments[0];
            fetch(f.action + '?' + new URLSearchParams(new FormData(f)) + '&format=csv', { credentials: 'same-origin' })
              .then(function (r) { return r.text(); })
              .then(function (t) { done(t.trim().split('\\n').length); });")
        .await;
    assert_eq!(
        downloaded, 62,
        "the download form gets a header and the 61 requests"
    );

    // The status chart lists the error requests it counted: 6 of 404 and 6 of 500.
    browser.visit(&server, &endpoint("/charts")).await;
    let rows = browser
        .run("return document.querySelectorAll('.error-requests tbody tr').length")
        .await;
    assert_eq!(rows, 12);
    // A range without requests shows a readable empty state instead of a blank chart.
    let empty = browser
        .visit(&server, "/charts?from=2001-01-01&to=2001-01-07")
        .await;
    assert!(empty.iter().all(|(_, points)| *points == 0), "{empty:?}");
    let says = browser
        .run("return Array.prototype.map.call(document.querySelectorAll('.chart-empty'), function (e) { return e.innerText; })")
        .await;
    assert_eq!(says.as_array().unwrap().len(), 4, "{says}");
    assert!(
        says[0]
            .as_str()
            .unwrap()
            .contains("No requests in this range"),
        "{says}"
    );
    browser.screenshot("charts-empty.png").await;

    // The level select changes the stored level.
    browser.visit(&server, "/overview").await;
    browser
        .run(&format!(
            "var s = document.querySelector('select.level[data-endpoint=\"{ping_id}\"]');
             s.value = '2'; s.dispatchEvent(new Event('change'));"
        ))
        .await;
    browser
        .wait_for("var t = document.getElementById('toast'); return t && t.innerText.indexOf('set to 2') !== -1")
        .await;
    assert_eq!(
        overview_row(&server, &admin, "ping").await["monitor_level"],
        2
    );
    // Several at once: pick shop and ping, set level 3. The bar shows once something is picked.
    let bar_shown = "return getComputedStyle(document.getElementById('bulk-levels')).display";
    assert_eq!(browser.run(bar_shown).await, "none", "no bar before a pick");
    browser
        .run(&format!(
            "document.querySelector('input.pick[data-endpoint=\"{ping_id}\"]').click();"
        ))
        .await;
    assert_ne!(browser.run(bar_shown).await, "none", "the bar after a pick");
    browser
        .run(&format!(
            "document.querySelector('input.pick[data-endpoint=\"{shop_id}\"]').click();
             var bar = document.getElementById('bulk-levels');
             bar.querySelector('select').value = '3';
             bar.querySelector('button').click();"
        ))
        .await;
    browser
        .wait_for("var t = document.getElementById('toast'); return t && t.innerText.indexOf('Level of 2 endpoints set to 3') !== -1")
        .await;
    for name in ["ping", "shop"] {
        assert_eq!(
            overview_row(&server, &admin, name).await["monitor_level"],
            3,
            "{name}"
        );
    }
    let shown = browser
        .run(&format!("return [document.querySelector('select.level[data-endpoint=\"{shop_id}\"]').value, getComputedStyle(document.getElementById('bulk-levels')).display]"))
        .await;
    assert_eq!(
        shown,
        json!(["3", "none"]),
        "the selects show it, the picks are cleared and the bar is gone"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors as admin: {errors:?}");

    // A guest sees everything and can change nothing.
    browser
        .run("document.querySelector('form[action$=\"/logout\"]').submit()")
        .await;
    browser
        .wait_for("return location.pathname.endsWith('/login')")
        .await;
    browser.login(&server, "guest", GUEST_PW).await;
    for (_, path) in &pages {
        if path.ends_with("/users") {
            // Administrators only: a 403 page (tests/settings.rs), and no tab leads there.
            continue;
        }
        let drawn = browser.visit(&server, path).await;
        assert!(
            drawn.iter().all(|(_, points)| *points > 0),
            "{path} as guest: {drawn:?}"
        );
        let controls = browser
            .run("return document.querySelectorAll('select.level, #prune-form, button.delete-data, button.delete-group, .danger-button').length")
            .await;
        assert_eq!(controls, 0, "{path}: a guest sees admin controls");
    }
    let users_tab = browser
        .run("return document.querySelectorAll('a[href$=\"/settings/users\"]').length")
        .await;
    assert_eq!(users_tab, 0, "a guest sees no Users tab");
    browser.visit(&server, "/overview").await;
    browser.screenshot("overview-guest.png").await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors as guest: {errors:?}");
    drop(browser);
    server.stop().await;
}

#[tokio::test]
async fn narrow_screens_reach_every_page_through_the_menu_button() {
    let _serial = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), warp::path!("ping").and_then(ping)).await;
    client().get(server.url("/ping")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    browser.login(&server, "admin", ADMIN_PW).await;
    let button_shown =
        "return getComputedStyle(document.querySelector('.menu-button')).display !== 'none'";
    let sidebar_shown = "var s = document.querySelector('.sidebar');
        return getComputedStyle(s).display !== 'none' && s.getBoundingClientRect().width > 0";
    assert_eq!(
        browser.run(button_shown).await,
        false,
        "wide: no menu button"
    );
    assert_eq!(browser.run(sidebar_shown).await, true, "wide: the sidebar");
    for width in [800, 390] {
        browser.resize(width, 844).await;
        browser.goto(&server.url("/dashboard/overview")).await;
        let inner = browser.run("return window.innerWidth").await;
        assert!(inner.as_u64().unwrap() <= u64::from(width), "{inner}");
        let links = browser
            .run("return Array.prototype.map.call(document.querySelectorAll('.menu a'), function (a) { return a.getAttribute('href'); })")
            .await;
        let links: Vec<String> = links
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(links.len(), 7, "every menu entry: {links:?}");
        for href in &links {
            assert_eq!(
                browser.run(sidebar_shown).await,
                false,
                "{width}: closed at first"
            );
            assert_eq!(
                browser.run(button_shown).await,
                true,
                "{width}: a menu button"
            );
            browser
                .run("document.querySelector('.menu-button').click()")
                .await;
            browser.wait_for(sidebar_shown).await;
            let expanded = browser
                .run("return document.querySelector('.menu-button').getAttribute('aria-expanded')")
                .await;
            assert_eq!(expanded, "true");
            if href.ends_with("/overview") {
                browser
                    .screenshot(&format!("narrow-{width}-menu.png"))
                    .await;
            }
            browser
                .run(&format!(
                    "document.querySelector('.menu a[href=\"{href}\"]').click()"
                ))
                .await;
            browser
                .wait_for(&format!(
                    "return location.pathname === {} && document.readyState === 'complete'",
                    json!(href)
                ))
                .await;
            let title = browser
                .run("return document.querySelector('.topbar h1').innerText")
                .await;
            assert!(!title.as_str().unwrap().is_empty(), "{href} has a title");
            let name = href.rsplit('/').next().unwrap();
            browser
                .screenshot(&format!("narrow-{width}-{name}.png"))
                .await;
        }
        // Escape closes the open menu.
        browser
            .run("document.querySelector('.menu-button').click()")
            .await;
        browser.wait_for(sidebar_shown).await;
        browser
            .run("document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))")
            .await;
        assert_eq!(browser.run(sidebar_shown).await, false, "Escape closes it");
    }
    assert!(browser.console_errors().await.is_empty());
    server.stop().await;
}
