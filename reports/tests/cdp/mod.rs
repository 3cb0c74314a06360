//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe`, so the report can be
//! checked in headless Chromium without npm: Chromium reads JSON commands on fd 3 and writes
//! NUL-terminated JSON replies and events on fd 4.
//!
//! Shared by the `browser` test and the `screenshot` example.

#![allow(dead_code, unreachable_pub)]

use std::io::{PipeReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    replies: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Every event of the page's session, in order.
    pub events: Vec<Value>,
    user_data: PathBuf,
}

fn reader(mut from: PipeReader, to: std::sync::mpsc::Sender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|b| *b == 0) {
            let msg: Vec<u8> = buf.drain(..=end).collect();
            if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1])
                && to.send(v).is_err()
            {
                return;
            }
        }
    }
}

impl Browser {
    /// Starts Chromium (failing with an install hint if it is missing) and opens a blank page.
    pub fn launch() -> Result<Self, String> {
        if !Path::new(CHROMIUM).exists() {
            return Err(format!(
                "{CHROMIUM} is missing: install Debian's chromium package (`apt-get install -y chromium`; .ci/run does)"
            ));
        }
        static LAUNCHES: AtomicUsize = AtomicUsize::new(0);
        let user_data = std::env::temp_dir().join(format!(
            "tcpc-chromium-{}-{}",
            std::process::id(),
            LAUNCHES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&user_data);
        std::fs::create_dir_all(&user_data).map_err(|e| e.to_string())?;
        let (cmd_r, cmd_w) = std::io::pipe().map_err(|e| e.to_string())?;
        let (out_r, out_w) = std::io::pipe().map_err(|e| e.to_string())?;
        let (in_fd, out_fd) = (cmd_r.as_raw_fd(), out_w.as_raw_fd());
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", user_data.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so that dropping the browser ends its helpers too.
        .process_group(0);
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Move both ends above 3 and 4 first, so dup2 never clobbers one with the other.
                let a = libc::fcntl(in_fd, libc::F_DUPFD_CLOEXEC, 10);
                let b = libc::fcntl(out_fd, libc::F_DUPFD_CLOEXEC, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {CHROMIUM}: {e}"))?;
        drop(cmd_r);
        drop(out_w);
        let (tx, rx) = channel();
        std::thread::spawn(move || reader(out_r, tx));
        let mut b = Self {
            child,
            commands: cmd_w,
            replies: rx,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            user_data,
        };
        let target = b.call_on(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or("Target.createTarget gave no targetId")?
            .to_owned();
        let attached = b.call_on(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .ok_or("Target.attachToTarget gave no sessionId")?
            .to_owned();
        for domain in ["Runtime", "Log", "Network", "Page"] {
            b.call(&format!("{domain}.enable"), json!({}))?;
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    fn recv(&mut self, deadline: Instant) -> Result<Value, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.replies.recv_timeout(left) {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Timeout) => Err("Chromium did not answer in time".into()),
            Err(RecvTimeoutError::Disconnected) => Err("Chromium closed its pipe".into()),
        }
    }

    fn keep_event(&mut self, v: Value) {
        if v.get("method").is_some() && v["sessionId"].as_str() == Some(&self.session) {
            self.events.push(v);
        }
    }

    fn call_on(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|e| format!("{method}: cannot write to Chromium: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.recv(deadline).map_err(|e| format!("{method}: {e}"))?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
            self.keep_event(v);
        }
    }

    /// Sends a command to the page and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let session = self.session.clone();
        self.call_on(Some(&session), method, params)
    }

    /// Opens `url` and waits for its load event.
    pub fn navigate(&mut self, url: &str) -> Result<(), String> {
        let seen = self.events.len();
        let r = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(e) = r.get("errorText") {
            return Err(format!("navigating to {url}: {e}"));
        }
        if self.events[seen..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self
                .recv(deadline)
                .map_err(|e| format!("loading {url}: {e}"))?;
            let done = v["method"] == "Page.loadEventFired";
            self.keep_event(v);
            if done {
                return Ok(());
            }
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("evaluating `{expr}`: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Saves a PNG of the page's top `max_height` CSS pixels (the whole page if shorter).
    pub fn screenshot(&mut self, path: &Path, max_height: f64) -> Result<(), String> {
        let m = self.call("Page.getLayoutMetrics", json!({}))?;
        let width = m["cssContentSize"]["width"].as_f64().unwrap_or(1280.0);
        let height = m["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(900.0)
            .min(max_height);
        let r = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width.max(1280.0), "height": height, "scale": 1}
            }),
        )?;
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        let png = base64_decode(data)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                        Some(format!("console.{}: {}", p["type"], p["args"]))
                    }
                    "Runtime.exceptionThrown" => {
                        Some(format!("exception: {}", p["exceptionDetails"]))
                    }
                    "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!(
                        "log: {} ({})",
                        p["entry"]["text"], p["entry"]["url"]
                    )),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every requested URL that is neither `file:` nor `data:`.
    pub fn external_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
            .collect()
    }

    /// Every requested URL.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group this browser leads (its renderer, zygote and crash handler).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: a plain kill(2) of the process group we created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Helpers may still be exiting and writing; try a few times.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.user_data).is_ok() || !self.user_data.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Standard base64 (with padding), as CDP sends binary data.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("bad base64 byte {c:#x}")),
        }
        .into())
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= if *b == b'=' { 0 } else { val(*b)? } << (18 - 6 * i);
        }
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..3 - pad.min(2)]);
    }
    Ok(out)
}
